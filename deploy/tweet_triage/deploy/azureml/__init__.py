"""Azure ML definitions: the environment, the retraining pipeline and its weekly schedule, the blue/green endpoint.

Every builder here is offline (no credential, no network): `triage azure validate` builds, validates and dumps them.
Only :mod:`tweet_triage.deploy.azureml.workspace` talks to Azure. ``azure-ai-ml`` is imported lazily (``azure`` extra).
"""
