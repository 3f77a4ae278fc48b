"""The assembled application: the `triage` command root and the local orchestration.

Local orchestration is the stack (broker, store, MLflow), launching the API and dashboard, the demo, draining the
stream before a stop and rebuilding the store from the topics. The only area that may import every other one.
"""
