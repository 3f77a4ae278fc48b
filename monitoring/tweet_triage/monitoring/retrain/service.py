"""Retraining requests: the policy decides, the request is recorded as a ``retrain`` alert, a backend runs it.

The ledger of past retrainings is the ``alerts`` container itself (kind ``retrain``, newest first), so every
monitor replica and the CLI see the same history and a restart forgets nothing. Nothing here promotes: a finished
retraining leaves a ``candidate`` and an ``approval`` alert for a person.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft
from tweet_triage.monitoring.alerts.store import AlertStorage
from tweet_triage.monitoring.retrain.policy import Decision, PastRetrain, RetrainPolicy, RetrainTrigger
from tweet_triage.monitoring.retrain.request import RetrainRequest

log = logging.getLogger(__name__)

_HISTORY = timedelta(days=8)  # the policy looks back at most a week (weekly slot) plus a day


class DetailsWriter(Protocol):
    def set_details(self, alert_id: str, details: dict[str, Any]) -> None: ...


class RetrainBackend(Protocol):
    @property
    def name(self) -> str: ...

    def start(self, alert_id: str, request: RetrainRequest) -> str:
        """Start (or submit) the retraining ``request`` recorded as alert ``alert_id``; return where to follow it."""
        ...


@dataclass(frozen=True)
class RetrainOutcome:
    decision: Decision
    alert: Alert | None = None  # the ``retrain`` alert recording the request, when the policy allowed it


def record(ledger: DetailsWriter, alert: Alert, request: RetrainRequest) -> Alert:
    """Write ``request`` as its alert's details (only the details: its delivery state is the outbox's)."""
    details = request.to_details()
    ledger.set_details(alert.id, details)
    return alert.model_copy(update={"details": details})


class RetrainService:
    def __init__(
        self, policy: RetrainPolicy, ledger: AlertStorage, center: AlertCenter, backend: RetrainBackend
    ) -> None:
        self._policy = policy
        self._ledger = ledger
        self._center = center
        self._backend = backend

    def history(self) -> list[PastRetrain]:
        since = self._policy.now() - _HISTORY
        return [
            PastRetrain(kind=RetrainRequest.from_alert(alert).trigger.kind, at=alert.created_at)
            for alert in self._ledger.recent(kind="retrain", since=since, limit=500)
        ]

    def request(
        self, trigger: RetrainTrigger, *, model_version: str | None, caused_by: str | None = None
    ) -> RetrainOutcome:
        decision = self._policy.decide(trigger, self.history())
        if not decision.allowed:
            log.warning("retraining (%s) not started: %s", trigger.kind, decision.reason)
            return RetrainOutcome(decision)
        request = RetrainRequest(secrets.token_hex(4), trigger, self._backend.name, caused_by=caused_by)
        draft = AlertDraft(
            kind="retrain",
            severity="info",
            title=f"Retraining started ({trigger.kind}): {trigger.reason}"[:200],
            summary=(
                f"A retraining was requested by {trigger.requested_by} ({trigger.kind}; {decision.reason}). "
                "It produces a candidate model; nothing changes in production until a person promotes it."
            ),
            model_version=model_version,
            details=request.to_details(),
            scope=request.request_id,
        )
        alert = self._center.raise_alert(draft).alert
        try:
            where = self._backend.start(alert.id, request)
        except Exception as exc:
            record(self._ledger, alert, request.failed(exc))
            raise
        return RetrainOutcome(decision, record(self._ledger, alert, request.started(where)))
