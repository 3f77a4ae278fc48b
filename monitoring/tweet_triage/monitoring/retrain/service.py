"""Retraining requests: the policy decides, the request is recorded as a ``retrain`` alert, a backend runs it.

The ledger of past retrainings is the ``alerts`` container itself (kind ``retrain``, newest first), so every
monitor replica and the CLI see the same history and a restart forgets nothing. Nothing here promotes: a finished
retraining leaves a ``candidate`` and an ``approval`` alert for a person.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft, AlertKind, Status
from tweet_triage.monitoring.retrain.policy import Decision, PastRetrain, RetrainPolicy, RetrainTrigger

log = logging.getLogger(__name__)

_HISTORY = timedelta(days=8)  # the policy looks back at most a week (weekly slot) plus a day


class RequestLedger(Protocol):
    def recent(
        self,
        *,
        status: Status | None = None,
        kind: AlertKind | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Alert]: ...

    def set_details(self, alert_id: str, details: dict[str, Any]) -> None: ...


class RetrainBackend(Protocol):
    @property
    def name(self) -> str: ...

    def start(self, request: Alert) -> str:
        """Start (or submit) the retraining for ``request``; return where to follow it."""
        ...


@dataclass(frozen=True)
class RetrainOutcome:
    decision: Decision
    request: Alert | None = None


class RetrainService:
    def __init__(
        self, policy: RetrainPolicy, ledger: RequestLedger, center: AlertCenter, backend: RetrainBackend
    ) -> None:
        self._policy = policy
        self._ledger = ledger
        self._center = center
        self._backend = backend

    def history(self) -> list[PastRetrain]:
        since = self._policy.now() - _HISTORY
        return [
            PastRetrain(kind=alert.details.get("trigger", "manual"), at=alert.created_at)
            for alert in self._ledger.recent(kind="retrain", since=since, limit=500)
        ]

    def request(
        self, trigger: RetrainTrigger, *, model_version: str | None, caused_by: str | None = None
    ) -> RetrainOutcome:
        decision = self._policy.decide(trigger, self.history())
        if not decision.allowed:
            log.warning("retraining (%s) not started: %s", trigger.kind, decision.reason)
            return RetrainOutcome(decision)
        request_id = secrets.token_hex(4)
        details: dict[str, Any] = {
            "request_id": request_id,
            "trigger": trigger.kind,
            "reason": trigger.reason,
            "requested_by": trigger.requested_by,
            "forced": trigger.force,
            "backend": self._backend.name,
            "status": "requested",
            "caused_by": caused_by,
        }
        draft = AlertDraft(
            kind="retrain",
            severity="info",
            title=f"Retraining started ({trigger.kind}): {trigger.reason}"[:200],
            summary=(
                f"A retraining was requested by {trigger.requested_by} ({trigger.kind}; {decision.reason}). "
                "It produces a candidate model; nothing changes in production until a person promotes it."
            ),
            model_version=model_version,
            details=details,
            scope=request_id,
        )
        request = self._center.raise_alert(draft).alert
        try:
            where = self._backend.start(request)
        except Exception as exc:
            self.update(request, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        return RetrainOutcome(decision, self.update(request, status="started", job=where))

    def update(self, request: Alert, **changes: Any) -> Alert:
        """Record progress in the request's details (only the details: its delivery state is the outbox's)."""
        details = {**request.details, **changes}
        self._ledger.set_details(request.id, details)
        return request.model_copy(update={"details": details})
