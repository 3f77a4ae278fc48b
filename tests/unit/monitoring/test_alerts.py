"""The alert center's deduplication and the webhook's retries, with an in-memory store and a mock transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft, Evidence
from tweet_triage.monitoring.alerts.webhook import DeliveryResult, WebhookNotifier

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, Alert] = {}

    def save(self, alert: Alert) -> Alert:
        self.items[alert.id] = alert
        return alert

    def latest(self, dedup_key: str) -> Alert | None:
        same = [a for a in self.items.values() if a.dedup_key == dedup_key]
        return max(same, key=lambda a: a.created_at, default=None)


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def deliver(self, alert: Alert) -> DeliveryResult:
        self.sent.append(alert)
        return DeliveryResult(True, 1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def drift_draft(version: str = "3", statistic: float = 0.2) -> AlertDraft:
    evidence = Evidence(source="embedding", statistic=statistic, threshold=0.1, window=20, at=T0, observed=100)
    return AlertDraft(
        kind="drift", severity="warning", title="Drift", summary="s", model_version=version, evidence=evidence
    )


def test_a_storm_within_the_cooldown_is_one_alert_and_one_message() -> None:
    store, notifier, clock = MemoryStore(), RecordingNotifier(), Clock()
    center = AlertCenter(store, notifier, cooldown_s=3600, clock=clock)
    first = center.raise_alert(drift_draft())
    for minute in range(1, 60, 5):  # repeats keep arriving for an hour
        clock.now = T0 + timedelta(minutes=minute)
        assert not center.raise_alert(drift_draft(statistic=0.2 + minute)).new
    assert first.new
    assert len(store.items) == 1
    assert len(notifier.sent) == 1
    stored = store.items[first.alert.id]
    assert stored.occurrences == 13
    assert stored.last_seen_at == T0 + timedelta(minutes=56)
    assert stored.delivery.status == "delivered"
    assert stored.evidence[-1].statistic == 56.2


def test_a_repeat_after_the_cooldown_or_for_another_model_is_a_new_incident() -> None:
    store, notifier, clock = MemoryStore(), RecordingNotifier(), Clock()
    center = AlertCenter(store, notifier, cooldown_s=3600, clock=clock)
    center.raise_alert(drift_draft())
    assert center.raise_alert(drift_draft(version="4")).new
    clock.now = T0 + timedelta(hours=1, seconds=1)
    assert center.raise_alert(drift_draft()).new
    assert len(notifier.sent) == 3


def test_evidence_is_bounded() -> None:
    store, clock = MemoryStore(), Clock()
    center = AlertCenter(store, None, cooldown_s=3600, clock=clock)
    for _ in range(50):
        result = center.raise_alert(drift_draft())
    assert len(result.alert.evidence) == 20
    assert result.alert.delivery.status == "disabled"


def test_webhook_retries_server_errors_then_delivers_slack_style_json() -> None:
    bodies: list[dict[str, object]] = []
    answers = iter([503, 500, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(next(answers))

    waits: list[float] = []
    notifier = WebhookNotifier(
        "http://hook.invalid/x", attempts=5, sleep=waits.append, transport=httpx.MockTransport(handler)
    )
    alert = drift_draft().to_alert(T0)
    result = notifier.deliver(alert)
    assert result == DeliveryResult(True, 3)
    assert waits == [1.0, 2.0]
    assert isinstance(bodies[0]["text"], str) and alert.id in bodies[0]["text"]
    assert bodies[0]["alert"]["id"] == alert.id  # type: ignore[index]


def test_webhook_does_not_retry_a_client_error() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404)

    notifier = WebhookNotifier("http://hook.invalid/x", sleep=lambda s: None, transport=httpx.MockTransport(handler))
    result = notifier.deliver(drift_draft().to_alert(T0))
    assert result == DeliveryResult(False, 1, "HTTP 404")
    assert len(calls) == 1


def test_webhook_gives_up_after_its_attempts_on_connection_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    notifier = WebhookNotifier(
        "http://hook.invalid/x", attempts=3, sleep=lambda s: None, transport=httpx.MockTransport(handler)
    )
    result = notifier.deliver(drift_draft().to_alert(T0))
    assert not result.delivered
    assert result.attempts == 3
    assert "ConnectError" in (result.error or "")
