"""The alert center: turns drafts into stored alerts, deduplicates repeats, delivers new ones to the webhook.

A draft whose dedup key (kind + model version) matches an alert last seen less than ``cooldown`` ago — open or
acknowledged — is a repeat: the stored alert's occurrence count, last-seen time and evidence (the last
:data:`~tweet_triage.monitoring.alerts.records.MAX_EVIDENCE` readings) are updated and nothing is sent. A drift storm
is therefore one incident and one message. The store is the memory, so this survives restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tweet_triage.monitoring.alerts.records import MAX_EVIDENCE, Alert, AlertDraft, Delivery
from tweet_triage.monitoring.alerts.webhook import DeliveryResult, WebhookNotifier
from tweet_triage.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class AlertRepository(Protocol):
    def save(self, alert: Alert) -> Alert: ...
    def latest(self, dedup_key: str) -> Alert | None: ...


class Notifier(Protocol):
    def deliver(self, alert: Alert) -> DeliveryResult: ...


@dataclass(frozen=True)
class Raised:
    alert: Alert
    new: bool


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlertCenter:
    def __init__(
        self,
        store: AlertRepository,
        notifier: Notifier | None,
        *,
        cooldown_s: float,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._cooldown = timedelta(seconds=cooldown_s)
        self._clock = clock

    def raise_alert(self, draft: AlertDraft) -> Raised:
        now = self._clock()
        previous = self._store.latest(draft.dedup_key)
        if previous is not None and now - previous.last_seen_at < self._cooldown:
            evidence = [*previous.evidence, *([draft.evidence] if draft.evidence else [])][-MAX_EVIDENCE:]
            repeat = previous.model_copy(
                update={"occurrences": previous.occurrences + 1, "last_seen_at": now, "evidence": evidence}
            )
            log.info("alert %s repeated (%d occurrences); not notifying again", previous.id, repeat.occurrences)
            return Raised(self._store.save(repeat), new=False)
        alert = self._store.save(draft.to_alert(now))
        log.warning("alert %s [%s] %s", alert.id, alert.severity, alert.title)
        return Raised(self._store.save(self._deliver(alert)), new=True)

    def _deliver(self, alert: Alert) -> Alert:
        if self._notifier is None:
            return alert.model_copy(update={"delivery": Delivery(status="disabled")})
        result = self._notifier.deliver(alert)
        delivery = Delivery(
            status="delivered" if result.delivered else "failed",
            attempts=result.attempts,
            last_error=result.error,
            delivered_at=self._clock() if result.delivered else None,
        )
        return alert.model_copy(update={"delivery": delivery})


def alert_center(settings: Settings, store: AlertRepository) -> AlertCenter:
    """The center the settings describe: the webhook when a URL is set (a secret), the cooldown."""
    cfg = settings.alerts
    notifier = None
    if cfg.webhook_url is not None:
        url = cfg.webhook_url.get_secret_value()
        notifier = WebhookNotifier(url, timeout_s=cfg.webhook_timeout_s, attempts=cfg.webhook_attempts)
    return AlertCenter(store, notifier, cooldown_s=cfg.cooldown_s)
