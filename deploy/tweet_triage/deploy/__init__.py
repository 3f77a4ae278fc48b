"""Deployment as code: Azure ML definitions, infrastructure, containers."""
