"""The wire contracts between processes: tweets, scored events, feedback events, dead letters."""
