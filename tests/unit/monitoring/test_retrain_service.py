"""Retraining requests: recorded as alerts that form the policy's history; refusals record nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.twins.stores import AlertStoreTwin
from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.retrain.policy import PastRetrain, RetrainPolicy, RetrainTrigger, TriggerKind
from tweet_triage.monitoring.retrain.request import RequestStatus, RetrainRequest
from tweet_triage.monitoring.retrain.service import RetrainService
from tweet_triage.settings import RetrainSettings

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)


class Backend:
    name = "fake"

    def __init__(self, fail: bool = False) -> None:
        self.started: list[tuple[str, RetrainRequest]] = []
        self.fail = fail

    def start(self, alert_id: str, request: RetrainRequest) -> str:
        if self.fail:
            raise RuntimeError("compute quota exceeded")
        self.started.append((alert_id, request))
        return "job-1"


def service(backend: Backend, clock: list[datetime]) -> tuple[RetrainService, AlertStoreTwin]:
    ledger = AlertStoreTwin()
    policy = RetrainPolicy(RetrainSettings(min_interval_s=3600), lambda: clock[0])
    center = AlertCenter(ledger, None, cooldown_s=3600, clock=lambda: clock[0])
    return RetrainService(policy, ledger, center, backend), ledger


def test_an_allowed_request_is_recorded_started_and_counted_by_the_policy() -> None:
    clock, backend = [T0], Backend()
    retrain, ledger = service(backend, clock)
    trigger = RetrainTrigger(TriggerKind.DRIFT, "incident al-1", "monitor")
    outcome = retrain.request(trigger, model_version="3", caused_by="al-1")
    assert outcome.decision.allowed and outcome.alert is not None
    stored = outcome.alert.details
    assert stored == {  # the stored form every earlier version wrote and read
        "request_id": stored["request_id"],
        "trigger": "drift",
        "reason": "incident al-1",
        "requested_by": "monitor",
        "forced": False,
        "backend": "fake",
        "status": "started",
        "caused_by": "al-1",
        "job": "job-1",
    }
    assert [(alert_id, r.request_id) for alert_id, r in backend.started] == [(outcome.alert.id, stored["request_id"])]
    assert retrain.history() == [PastRetrain(TriggerKind.DRIFT, T0)]
    clock[0] = T0 + timedelta(minutes=10)
    refused = retrain.request(RetrainTrigger(TriggerKind.MANUAL, "again", "ana"), model_version="3")
    assert not refused.decision.allowed and refused.alert is None
    assert len(ledger.items) == 1


def test_two_requests_in_a_row_are_two_alerts_not_one_deduplicated_incident() -> None:
    clock, backend = [T0], Backend()
    retrain, ledger = service(backend, clock)
    retrain.request(RetrainTrigger(TriggerKind.MANUAL, "one", "ana", force=True), model_version="3")
    retrain.request(RetrainTrigger(TriggerKind.MANUAL, "two", "ana", force=True), model_version="3")
    assert len(ledger.items) == 2


def test_a_backend_failure_is_recorded_on_the_request_and_raised() -> None:
    clock = [T0]
    retrain, ledger = service(Backend(fail=True), clock)
    with pytest.raises(RuntimeError, match="quota"):
        retrain.request(RetrainTrigger(TriggerKind.MANUAL, "x", "ana"), model_version="3")
    [alert] = ledger.recent()
    request = RetrainRequest.from_alert(alert)
    assert request.status is RequestStatus.FAILED
    assert request.error == "RuntimeError: compute quota exceeded"
