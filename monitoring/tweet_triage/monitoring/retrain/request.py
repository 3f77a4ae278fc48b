"""A retraining request, typed: what a ``retrain`` alert's ``details`` hold, and the one conversion to and from them.

The stored form is the flat JSON object every retraining request has been written as::

    {"request_id": "3f9a2c1b", "trigger": "drift", "reason": "...", "requested_by": "monitor", "forced": false,
     "backend": "local", "status": "started", "caused_by": "al-...", "job": "local process 4242 ..."}

``job``, ``error``, ``candidate_version`` and ``report`` appear once the request gets that far. Reading is lenient
where the old readers were: a missing ``trigger`` is ``manual``, a missing ``request_id`` is the alert's id, a missing
``status`` is ``requested``; keys this version does not know are kept and written back unchanged, so a progress update
never drops what another version recorded. A value outside the known trigger kinds or statuses is an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.retrain.policy import RetrainTrigger, TriggerKind

_KNOWN: Final = frozenset(
    {
        "request_id",
        "trigger",
        "reason",
        "requested_by",
        "forced",
        "backend",
        "status",
        "caused_by",
        "job",
        "error",
        "candidate_version",
        "report",
    }
)


class RequestStatus(StrEnum):
    """Where a retraining request stands."""

    REQUESTED = "requested"  # recorded; not handed to a backend yet
    STARTED = "started"  # the backend took it (``job`` says where to follow it)
    RUNNING = "running"  # `triage retrain run` is working on it
    SUCCEEDED = "succeeded"  # a candidate is registered (``candidate_version``, ``report``)
    FAILED = "failed"  # ``error`` says why


@dataclass(frozen=True)
class RetrainRequest:
    """One retraining request: the trigger the policy allowed, where it runs, and how far it got."""

    request_id: str
    trigger: RetrainTrigger
    backend: str
    caused_by: str | None = None  # the alert (drift, accuracy) that triggered it
    status: RequestStatus = RequestStatus.REQUESTED
    job: str | None = None
    error: str | None = None
    candidate_version: str | None = None
    report: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # stored keys this version does not know

    # ---- progress -----------------------------------------------------------------------------------------------

    def started(self, job: str) -> RetrainRequest:
        return dataclasses.replace(self, status=RequestStatus.STARTED, job=job)

    def running(self) -> RetrainRequest:
        return dataclasses.replace(self, status=RequestStatus.RUNNING)

    def failed(self, exc: BaseException) -> RetrainRequest:
        return dataclasses.replace(self, status=RequestStatus.FAILED, error=f"{type(exc).__name__}: {exc}")

    def succeeded(self, candidate_version: str, report: str) -> RetrainRequest:
        return dataclasses.replace(
            self, status=RequestStatus.SUCCEEDED, candidate_version=candidate_version, report=report
        )

    # ---- the stored form ----------------------------------------------------------------------------------------

    def to_details(self) -> dict[str, Any]:
        """The alert's ``details``: the keys above (progress keys only once set), then any unknown ones kept."""
        details: dict[str, Any] = {
            "request_id": self.request_id,
            "trigger": str(self.trigger.kind),
            "reason": self.trigger.reason,
            "requested_by": self.trigger.requested_by,
            "forced": self.trigger.force,
            "backend": self.backend,
            "status": str(self.status),
            "caused_by": self.caused_by,
        }
        progress = {
            "job": self.job,
            "error": self.error,
            "candidate_version": self.candidate_version,
            "report": self.report,
        }
        details.update({key: value for key, value in progress.items() if value is not None})
        return {**details, **self.extra}

    @classmethod
    def from_alert(cls, alert: Alert) -> RetrainRequest:
        """The request a ``retrain`` alert records; raises ``MonitorError`` for another kind or unknown values."""
        if alert.kind != "retrain":
            raise MonitorError(f"{alert.id} is a {alert.kind} alert, not a retraining request")
        details = alert.details
        try:
            kind = TriggerKind(details.get("trigger") or TriggerKind.MANUAL)
            status = RequestStatus(details.get("status") or RequestStatus.REQUESTED)
        except ValueError as exc:
            raise MonitorError(f"retraining request {alert.id}: {exc}") from None
        return cls(
            request_id=_text(details, "request_id") or alert.id,
            trigger=RetrainTrigger(
                kind=kind,
                reason=_text(details, "reason") or "",
                requested_by=_text(details, "requested_by") or "unknown",
                force=details.get("forced") is True,
            ),
            backend=_text(details, "backend") or "unknown",
            caused_by=_text(details, "caused_by"),
            status=status,
            job=_text(details, "job"),
            error=_text(details, "error"),
            candidate_version=_text(details, "candidate_version"),
            report=_text(details, "report"),
            extra={key: value for key, value in details.items() if key not in _KNOWN},
        )


def _text(details: Mapping[str, Any], key: str) -> str | None:
    value = details.get(key)
    return None if value is None else str(value)
