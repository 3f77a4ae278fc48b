"""Online drift detection on the scored stream, behind the project's own interface (:mod:`.detector`)."""
