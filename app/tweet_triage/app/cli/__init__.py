"""The `triage` command: the root that registers every area's commands, and `triage demo`."""
