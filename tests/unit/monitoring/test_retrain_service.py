"""Retraining requests: recorded as alerts that form the policy's history; refusals record nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.monitoring.test_alerts import MemoryStore
from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.alerts.records import Alert, AlertKind, Status
from tweet_triage.monitoring.retrain.policy import RetrainPolicy, RetrainTrigger
from tweet_triage.monitoring.retrain.service import RetrainService
from tweet_triage.settings import RetrainSettings

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)


class Ledger(MemoryStore):
    def recent(
        self,
        *,
        status: Status | None = None,
        kind: AlertKind | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        found = [
            a
            for a in self.items.values()
            if (kind is None or a.kind == kind) and (since is None or a.created_at >= since)
        ]
        return sorted(found, key=lambda a: a.created_at, reverse=True)[:limit]


class Backend:
    name = "fake"

    def __init__(self, fail: bool = False) -> None:
        self.started: list[Alert] = []
        self.fail = fail

    def start(self, request: Alert) -> str:
        if self.fail:
            raise RuntimeError("compute quota exceeded")
        self.started.append(request)
        return "job-1"


def service(backend: Backend, clock: list[datetime]) -> tuple[RetrainService, Ledger]:
    ledger = Ledger()
    policy = RetrainPolicy(RetrainSettings(min_interval_s=3600), lambda: clock[0])
    center = AlertCenter(ledger, None, cooldown_s=3600, clock=lambda: clock[0])
    return RetrainService(policy, ledger, center, backend), ledger


def test_an_allowed_request_is_recorded_started_and_counted_by_the_policy() -> None:
    clock, backend = [T0], Backend()
    retrain, ledger = service(backend, clock)
    outcome = retrain.request(RetrainTrigger("drift", "incident al-1", "monitor"), model_version="3", caused_by="al-1")
    assert outcome.decision.allowed and outcome.request is not None
    assert outcome.request.details | {"request_id": "x"} == outcome.request.details | {
        "request_id": "x",
        "trigger": "drift",
        "caused_by": "al-1",
        "status": "started",
        "job": "job-1",
        "backend": "fake",
    }
    assert [a.id for a in backend.started] == [outcome.request.id]
    clock[0] = T0 + timedelta(minutes=10)
    refused = retrain.request(RetrainTrigger("manual", "again", "ana"), model_version="3")
    assert not refused.decision.allowed and refused.request is None
    assert len(ledger.items) == 1


def test_two_requests_in_a_row_are_two_alerts_not_one_deduplicated_incident() -> None:
    clock, backend = [T0], Backend()
    retrain, ledger = service(backend, clock)
    retrain.request(RetrainTrigger("manual", "one", "ana", force=True), model_version="3")
    retrain.request(RetrainTrigger("manual", "two", "ana", force=True), model_version="3")
    assert len(ledger.items) == 2


def test_a_backend_failure_is_recorded_on_the_request_and_raised() -> None:
    clock = [T0]
    retrain, ledger = service(Backend(fail=True), clock)
    with pytest.raises(RuntimeError, match="quota"):
        retrain.request(RetrainTrigger("manual", "x", "ana"), model_version="3")
    [request] = ledger.items.values()
    assert request.details["status"] == "failed"
    assert "quota" in request.details["error"]
