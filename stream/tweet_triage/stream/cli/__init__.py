"""Stream commands: `triage worker | publish | results | dlq`, and `triage model compare-shadow`."""
