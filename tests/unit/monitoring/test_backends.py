"""Retraining backends chosen by settings; the Azure ML one fails fast offline and names what is missing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tweet_triage.errors import TriageError
from tweet_triage.monitoring.alerts.records import AlertDraft
from tweet_triage.monitoring.retrain.backends import AzureMlBackend, LocalBackend, RecordOnlyBackend, backend_for
from tweet_triage.settings import load_settings

REQUEST = AlertDraft(
    kind="retrain",
    severity="info",
    title="t",
    summary="s",
    details={"request_id": "abc", "trigger": "drift", "reason": "drift incident"},
).to_alert(datetime(2026, 11, 26, tzinfo=UTC))


@pytest.mark.parametrize(
    ("backend", "kind"), [("local", LocalBackend), ("azureml", AzureMlBackend), ("record-only", RecordOnlyBackend)]
)
def test_the_backend_follows_the_setting(backend: str, kind: type) -> None:
    assert isinstance(backend_for(load_settings(retrain={"backend": backend})), kind)


def test_record_only_says_how_to_run_the_request() -> None:
    assert f"triage retrain run {REQUEST.id}" in RecordOnlyBackend().start(REQUEST)


def test_azureml_without_a_workspace_fails_fast_naming_the_settings() -> None:
    backend = AzureMlBackend(load_settings(retrain={"backend": "azureml"}))
    with pytest.raises(TriageError, match="TRIAGE_AZUREML__SUBSCRIPTION_ID"):
        backend.start(REQUEST)
