"""Monitoring: drift and accuracy monitors, on-call alerts, retraining triggers."""
