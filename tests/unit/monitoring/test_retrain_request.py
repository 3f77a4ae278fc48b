"""The typed retraining request and the ``details`` of its ``retrain`` alert: a lossless round trip through the stored
document, and alerts written by earlier versions (untyped dicts) still read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.twins.stores import AlertStoreTwin
from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft, AlertKind
from tweet_triage.monitoring.retrain.policy import RetrainTrigger, TriggerKind
from tweet_triage.monitoring.retrain.request import RequestStatus, RetrainRequest
from tweet_triage.monitoring.retrain.service import record

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)

# A ``retrain`` alert as the alerts container held it before the request was typed (`triage alerts show --json`).
OLD_ITEM: dict[str, Any] = {
    "id": "al-20261126T1200-3f9a2c",
    "kind": "retrain",
    "severity": "info",
    "title": "Retraining started (manual): coordinators report misses",
    "summary": "A retraining was requested by on-call (manual; within the retraining policy). ...",
    "model_version": "3",
    "created_at": "2026-11-26T12:00:00.000000Z",
    "last_seen_at": "2026-11-26T12:00:00.000000Z",
    "dedup_key": "retrain:3:1a2b3c4d",
    "details": {
        "request_id": "1a2b3c4d",
        "trigger": "manual",
        "reason": "coordinators report misses",
        "requested_by": "on-call",
        "forced": True,
        "backend": "local",
        "status": "succeeded",
        "caused_by": None,
        "job": "running in this process",
        "candidate_version": "4",
        "report": "/state/retrain/al-20261126T1200-3f9a2c-comparison.md",
    },
    "order_key": "2026-11-26T12:00:00.000000Z#al-20261126T1200-3f9a2c",
    "_etag": '"0000"',
}


def stored(details: dict[str, Any], kind: AlertKind = "retrain") -> Alert:
    """An alert with these details, through the JSON document the store keeps."""
    alert = AlertDraft(kind=kind, severity="info", title="t", summary="s", details=details).to_alert(T0)
    return Alert.from_item(json.loads(json.dumps(alert.to_item())))


def test_a_request_round_trips_through_the_stored_alert() -> None:
    request = RetrainRequest(
        "1a2b3c4d",
        RetrainTrigger(TriggerKind.ACCURACY, "accuracy 0.61 < 0.7", "monitor", force=True),
        "azureml",
        caused_by="al-20261126T1100-aaaaaa",
    )
    for step in (
        request,
        request.started("azureml job quiet_lamp_42"),
        request.running(),
        request.failed(RuntimeError("out of quota")),
        request.succeeded("4", "/state/retrain/report.md"),
    ):
        assert RetrainRequest.from_alert(stored(step.to_details())) == step
    assert request.failed(RuntimeError("out of quota")).error == "RuntimeError: out of quota"


def test_an_alert_written_before_the_request_was_typed_still_reads() -> None:
    alert = Alert.from_item(OLD_ITEM)
    request = RetrainRequest.from_alert(alert)
    assert request.request_id == "1a2b3c4d"
    assert request.trigger == RetrainTrigger(TriggerKind.MANUAL, "coordinators report misses", "on-call", force=True)
    assert (request.backend, request.status, request.caused_by) == ("local", RequestStatus.SUCCEEDED, None)
    assert (request.job, request.error) == ("running in this process", None)
    assert (request.candidate_version, request.report) == ("4", OLD_ITEM["details"]["report"])
    assert request.to_details() == OLD_ITEM["details"]  # written back, the document does not change


def test_missing_keys_take_the_defaults_the_old_readers_assumed_and_unknown_keys_survive_an_update() -> None:
    alert = stored({"reason": "hand-written", "note": "kept by a newer version"})
    request = RetrainRequest.from_alert(alert)
    assert request.trigger.kind is TriggerKind.MANUAL
    assert (request.request_id, request.status, request.trigger.force) == (alert.id, RequestStatus.REQUESTED, False)
    store = AlertStoreTwin()
    store.save(alert)
    updated = record(store, alert, request.running())
    assert store.get(alert.id).details == updated.details
    assert updated.details["note"] == "kept by a newer version" and updated.details["status"] == "running"


@pytest.mark.parametrize(
    ("details", "kind", "problem"),
    [
        ({"trigger": "hourly"}, "retrain", "'hourly' is not a valid TriggerKind"),
        ({"status": "paused"}, "retrain", "'paused' is not a valid RequestStatus"),
        ({"trigger": "drift"}, "drift", "not a retraining request"),
    ],
)
def test_what_is_not_a_retraining_request_is_refused_by_name(
    details: dict[str, Any], kind: AlertKind, problem: str
) -> None:
    with pytest.raises(MonitorError, match=problem):
        RetrainRequest.from_alert(stored(details, kind))
