"""The alert center: turns drafts into stored alerts, deduplicates repeats, delivers new ones to the webhook.

A draft whose dedup key (kind + model version) matches an alert last seen less than ``cooldown`` ago — open or
acknowledged — is a repeat: the stored alert's occurrence count, last-seen time and evidence (the last
:data:`~tweet_triage.monitoring.alerts.records.MAX_EVIDENCE` readings) are updated and nothing is sent. A drift storm
is therefore one incident and one message. The store is the memory, so this survives restarts.

Delivery goes through an outbox: a new alert is stored with its delivery ``pending`` *before* the webhook is called,
then the outcome is written onto it (delivered, or pending with the next attempt time, or failed for good). A crash
in between leaves it pending, and :meth:`AlertCenter.deliver_pending` — run by the monitor at start and on a timer —
sends whatever is still pending and due, with growing waits between rounds, until it is delivered, refused for good
by the receiver (a 4xx other than 429), or older than ``give_up_after_s``. Delivery state and repeats are written
as partial updates, so an acknowledgement or a repeat saved meanwhile is never overwritten. Delivery is
at-least-once: a crash after the webhook answered but before the outcome was stored sends the message again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from tweet_triage.clock import utc_now
from tweet_triage.monitoring.alerts.records import MAX_EVIDENCE, Alert, AlertDraft, Delivery, Evidence
from tweet_triage.monitoring.alerts.webhook import DeliveryResult, WebhookNotifier
from tweet_triage.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

FIRST_RETRY_S: Final = 60.0
MAX_RETRY_S: Final = 3600.0
# A freshly stored alert is due only after this long, so an outbox round elsewhere (another process, a timer) does
# not send it while the raising call is still delivering it.
CLAIM_S: Final = 120.0


class AlertRepository(Protocol):
    def save(self, alert: Alert) -> Alert: ...
    def latest(self, dedup_key: str) -> Alert | None: ...
    def save_repeat(self, alert: Alert) -> Alert:
        """Write only the occurrence count, last-seen time and evidence of ``alert``."""
        ...

    def set_delivery(self, alert_id: str, delivery: Delivery) -> None:
        """Write only the delivery state of one alert."""
        ...

    def undelivered(self, *, due: datetime, limit: int) -> list[Alert]:
        """Alerts whose delivery is pending and due at ``due``, oldest first."""
        ...


class Notifier(Protocol):
    def deliver(self, alert: Alert) -> DeliveryResult: ...


@dataclass(frozen=True)
class Raised:
    alert: Alert
    new: bool


class AlertCenter:
    def __init__(
        self,
        store: AlertRepository,
        notifier: Notifier | None,
        *,
        cooldown_s: float,
        give_up_after_s: float = 86_400.0,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._cooldown = timedelta(seconds=cooldown_s)
        self._give_up_after = timedelta(seconds=give_up_after_s)
        self._clock = clock

    def raise_alert(self, draft: AlertDraft) -> Raised:
        now = self._clock()
        previous = self._store.latest(draft.dedup_key)
        if previous is not None and now - previous.last_seen_at < self._cooldown:
            return Raised(self._repeat(previous, draft.evidence, now), new=False)
        delivery = (
            Delivery(status="pending", next_attempt_at=now + timedelta(seconds=CLAIM_S))
            if self._notifier is not None
            else Delivery(status="disabled")
        )
        alert = self._store.save(draft.to_alert(now).model_copy(update={"delivery": delivery}))  # the outbox entry
        log.warning("alert %s [%s] %s", alert.id, alert.severity, alert.title)
        return Raised(self._attempt(alert), new=True)

    def deliver_pending(self, *, limit: int = 50) -> list[Alert]:
        """Send the alerts whose delivery is pending and due (after a crash, a restart or a failed round)."""
        if self._notifier is None:
            return []
        pending = self._store.undelivered(due=self._clock(), limit=limit)
        if pending:
            log.warning("delivering %d alert(s) whose webhook message is still pending", len(pending))
        return [self._attempt(alert) for alert in pending]

    def _repeat(self, previous: Alert, evidence: Evidence | None, now: datetime) -> Alert:
        kept = [*previous.evidence, *([evidence] if evidence else [])][-MAX_EVIDENCE:]
        repeat = previous.model_copy(
            update={"occurrences": previous.occurrences + 1, "last_seen_at": now, "evidence": kept}
        )
        log.info("alert %s repeated (%d occurrences); not notifying again", previous.id, repeat.occurrences)
        return self._store.save_repeat(repeat)

    def _attempt(self, alert: Alert) -> Alert:
        """One delivery round for a pending alert; its outcome is written onto the stored alert."""
        if self._notifier is None or alert.delivery.status != "pending":
            return alert
        result = self._notifier.deliver(alert)
        delivery = self._outcome(alert, result)
        self._store.set_delivery(alert.id, delivery)
        return alert.model_copy(update={"delivery": delivery})

    def _outcome(self, alert: Alert, result: DeliveryResult) -> Delivery:
        now = self._clock()
        rounds = alert.delivery.rounds + 1
        attempts = alert.delivery.attempts + result.attempts
        if result.delivered:
            return Delivery(status="delivered", attempts=attempts, rounds=rounds, delivered_at=now)
        if result.final:
            return Delivery(status="failed", attempts=attempts, rounds=rounds, last_error=result.error)
        if now - alert.created_at >= self._give_up_after:
            why = f"{result.error}; gave up after {self._give_up_after.total_seconds() / 3600:.0f} h"
            log.error("alert %s: webhook delivery given up (%s)", alert.id, why)
            return Delivery(status="failed", attempts=attempts, rounds=rounds, last_error=why)
        wait = min(FIRST_RETRY_S * 2 ** (rounds - 1), MAX_RETRY_S)
        return Delivery(
            status="pending",
            attempts=attempts,
            rounds=rounds,
            last_error=result.error,
            next_attempt_at=now + timedelta(seconds=wait),
        )


def alert_center(settings: Settings, store: AlertRepository) -> AlertCenter:
    """The center the settings describe: the webhook when a URL is set (a secret), the cooldown."""
    cfg = settings.alerts
    notifier = None
    if cfg.webhook_url is not None:
        url = cfg.webhook_url.get_secret_value()
        notifier = WebhookNotifier(url, timeout_s=cfg.webhook_timeout_s, attempts=cfg.webhook_attempts)
    return AlertCenter(store, notifier, cooldown_s=cfg.cooldown_s, give_up_after_s=cfg.delivery_give_up_s)
