"""`triage data ...`, `triage train`, `triage model ...`, `triage predict`, `triage audit model`: one module per
command group; the `triage` root (``tweet_triage.app.cli.main``) registers what this package exports."""

from __future__ import annotations

from tweet_triage.training.cli.audit import audit_app
from tweet_triage.training.cli.data import data_app
from tweet_triage.training.cli.model import model_app
from tweet_triage.training.cli.predict import predict
from tweet_triage.training.cli.train import train

__all__ = ["audit_app", "data_app", "model_app", "predict", "train"]
