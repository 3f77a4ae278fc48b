"""The alert center's deduplication, its outbox, and the webhook's retries, with an in-memory store and a mock
transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.twins.stores import AlertStoreTwin
from tweet_triage.monitoring.alerts.center import CLAIM_S, AlertCenter
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft, Delivery, Evidence
from tweet_triage.monitoring.alerts.webhook import DeliveryResult, WebhookNotifier

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class RecordingNotifier:
    """Delivers (or fails with ``answers``), and records what the store held for the alert at that moment."""

    def __init__(self, store: AlertStoreTwin | None = None, answers: list[DeliveryResult] | None = None) -> None:
        self.sent: list[Alert] = []
        self.stored_while_sending: list[str] = []
        self._store = store
        self._answers = answers or []

    def deliver(self, alert: Alert) -> DeliveryResult:
        self.sent.append(alert)
        if self._store is not None:
            self.stored_while_sending.append(self._store.get(alert.id).delivery.status)
        return self._answers.pop(0) if self._answers else DeliveryResult(True, 1)


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
    store, notifier, clock = AlertStoreTwin(), RecordingNotifier(), Clock()
    center = AlertCenter(store, notifier, cooldown_s=3600, clock=clock)
    first = center.raise_alert(drift_draft())
    for minute in range(1, 60, 5):  # repeats keep arriving for an hour
        clock.now = T0 + timedelta(minutes=minute)
        assert not center.raise_alert(drift_draft(statistic=0.2 + minute)).new
    assert first.new
    assert len(store.items) == 1
    assert len(notifier.sent) == 1
    stored = store.get(first.alert.id)
    assert stored.occurrences == 13
    assert stored.last_seen_at == T0 + timedelta(minutes=56)
    assert stored.delivery.status == "delivered"
    assert stored.evidence[-1].statistic == 56.2


def test_a_repeat_after_the_cooldown_or_for_another_model_is_a_new_incident() -> None:
    store, notifier, clock = AlertStoreTwin(), RecordingNotifier(), Clock()
    center = AlertCenter(store, notifier, cooldown_s=3600, clock=clock)
    center.raise_alert(drift_draft())
    assert center.raise_alert(drift_draft(version="4")).new
    clock.now = T0 + timedelta(hours=1, seconds=1)
    assert center.raise_alert(drift_draft()).new
    assert len(notifier.sent) == 3


def test_evidence_is_bounded() -> None:
    store, clock = AlertStoreTwin(), Clock()
    center = AlertCenter(store, None, cooldown_s=3600, clock=clock)
    results = [center.raise_alert(drift_draft()) for _ in range(50)]
    assert len(results[-1].alert.evidence) == 20
    assert results[-1].alert.delivery.status == "disabled"


# ---- the outbox -------------------------------------------------------------------------------------------------


def test_an_alert_is_stored_pending_before_its_webhook_message_is_sent() -> None:
    store = AlertStoreTwin()
    notifier = RecordingNotifier(store)
    raised = AlertCenter(store, notifier, cooldown_s=3600, clock=Clock()).raise_alert(drift_draft())
    assert notifier.stored_while_sending == ["pending"]  # a crash while sending leaves an entry to retry
    assert store.get(raised.alert.id).delivery.status == "delivered" == raised.alert.delivery.status


def test_an_alert_left_pending_by_a_crash_is_delivered_after_a_restart() -> None:
    store, clock = AlertStoreTwin(), Clock()

    class Crashes:
        def deliver(self, alert: Alert) -> DeliveryResult:
            raise SystemExit("killed while posting")

    with pytest.raises(SystemExit):
        AlertCenter(store, Crashes(), cooldown_s=3600, clock=clock).raise_alert(drift_draft())
    [stored] = store.recent()
    assert stored.delivery.status == "pending"

    notifier = RecordingNotifier()
    restarted = AlertCenter(store, notifier, cooldown_s=3600, clock=clock)
    assert restarted.deliver_pending() == []  # not due yet: the raising process may still be sending it
    clock.now = T0 + timedelta(seconds=CLAIM_S)
    [delivered] = restarted.deliver_pending()
    assert [a.id for a in notifier.sent] == [stored.id]
    assert store.get(stored.id).delivery.status == "delivered" == delivered.delivery.status
    assert restarted.deliver_pending() == []  # delivered once


def test_a_failed_round_is_retried_later_with_growing_waits_until_delivered() -> None:
    store, clock = AlertStoreTwin(), Clock()
    down = DeliveryResult(False, 5, "ConnectError: refused")
    notifier = RecordingNotifier(answers=[down, down, down])
    center = AlertCenter(store, notifier, cooldown_s=3600, clock=clock)
    alert_id = center.raise_alert(drift_draft()).alert.id
    waits = []
    for _ in range(2):
        due = store.get(alert_id).delivery.next_attempt_at
        assert due is not None
        waits.append((due - clock.now).total_seconds())
        clock.now = due
        center.deliver_pending()
    clock.now = store.get(alert_id).delivery.next_attempt_at or clock.now
    center.deliver_pending()
    delivery = store.get(alert_id).delivery
    assert waits == [60.0, 120.0]
    assert (delivery.status, delivery.rounds, delivery.attempts) == ("delivered", 4, 16)


def test_a_receiver_that_refuses_for_good_or_an_alert_too_old_ends_as_failed() -> None:
    store, clock = AlertStoreTwin(), Clock()
    refused = RecordingNotifier(answers=[DeliveryResult(False, 1, "HTTP 404", final=True)])
    first = AlertCenter(store, refused, cooldown_s=3600, clock=clock).raise_alert(drift_draft("3")).alert
    assert store.get(first.id).delivery.status == "failed"

    down = RecordingNotifier(answers=[DeliveryResult(False, 5, "timeout")] * 3)
    center = AlertCenter(store, down, cooldown_s=3600, give_up_after_s=3600, clock=clock)
    second = center.raise_alert(drift_draft("4")).alert
    clock.now = T0 + timedelta(hours=1)
    center.deliver_pending()
    delivery = store.get(second.id).delivery
    assert delivery.status == "failed" and "gave up after 1 h" in (delivery.last_error or "")


def test_a_repeat_never_undoes_the_delivery_state() -> None:
    store, clock = AlertStoreTwin(), Clock()
    center = AlertCenter(store, RecordingNotifier(), cooldown_s=3600, clock=clock)
    first = center.raise_alert(drift_draft()).alert
    stale = store.get(first.id).model_copy(update={"delivery": Delivery(status="pending")})
    store.latest = lambda dedup_key: stale  # type: ignore[method-assign]  # a repeat from an old read
    center.raise_alert(drift_draft())
    assert store.get(first.id).delivery.status == "delivered" and store.get(first.id).occurrences == 2


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


def test_webhook_retries_when_throttled() -> None:
    answers = iter([429, 200])
    waits: list[float] = []
    notifier = WebhookNotifier(
        "http://hook.invalid/x",
        first_backoff_s=0.5,
        sleep=waits.append,
        transport=httpx.MockTransport(lambda request: httpx.Response(next(answers))),
    )
    assert notifier.deliver(drift_draft().to_alert(T0)) == DeliveryResult(True, 2)
    assert waits == [0.5]


def test_webhook_does_not_retry_a_client_error() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404)

    notifier = WebhookNotifier("http://hook.invalid/x", sleep=lambda s: None, transport=httpx.MockTransport(handler))
    result = notifier.deliver(drift_draft().to_alert(T0))
    assert result == DeliveryResult(False, 1, "HTTP 404", final=True)
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
