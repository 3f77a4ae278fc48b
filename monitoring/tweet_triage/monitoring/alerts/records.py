"""The alert record: one Cosmos DB item in the ``alerts`` container (partition key ``/id``).

Kinds: ``drift`` (a drift detector's episode opened), ``accuracy`` (rolling accuracy on human feedback fell below
the threshold), ``retrain`` (a retraining was requested, with its trigger and outcome), ``approval`` (a retrained
candidate waits for a person to compare and promote it) and ``unapproved`` (the production alias points at a version
without an approval record; serving refused to follow it). docs/runbook.md says what each one means and what to do.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tweet_triage.clock import UtcDatetime, format_utc
from tweet_triage.store.records import item_body

AlertKind = Literal["drift", "accuracy", "retrain", "approval", "unapproved"]
ALERT_KINDS: tuple[AlertKind, ...] = ("drift", "accuracy", "retrain", "approval", "unapproved")
Severity = Literal["critical", "warning", "info"]
Status = Literal["open", "acked"]
DeliveryStatus = Literal["pending", "delivered", "failed", "disabled"]

MAX_EVIDENCE = 20


class Evidence(BaseModel):
    """One detector reading (or accuracy figure) that supports the alert."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    source: str = Field(description="Detector or monitor that produced it (embedding, output, accuracy, ...).")
    statistic: float
    threshold: float
    window: int = Field(description="Tweets (or feedback items) the statistic was computed over.")
    at: UtcDatetime
    observed: int | None = Field(None, description="Tweets the monitor had seen for this model version.")


class Delivery(BaseModel):
    """Where the webhook message of an alert stands (the alert is its own outbox entry).

    ``pending`` — not delivered yet, tried again at ``next_attempt_at`` (also after a restart); ``delivered``;
    ``failed`` — given up: the receiver refused it for good, or it stayed undeliverable too long; ``disabled`` — no
    webhook configured when the alert was raised.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: DeliveryStatus = "pending"
    attempts: int = 0
    rounds: int = Field(0, description="Delivery rounds so far (each makes up to WEBHOOK_ATTEMPTS attempts).")
    last_error: str | None = None
    delivered_at: UtcDatetime | None = None
    next_attempt_at: UtcDatetime | None = None


class Alert(BaseModel):
    """What on-call sees in `triage alerts`, the dashboard and the webhook message."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    kind: AlertKind
    severity: Severity
    title: str
    summary: str = Field(description="Plain words: what happened and what to do first.")
    model_version: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    window: int | None = None
    created_at: UtcDatetime
    last_seen_at: UtcDatetime
    occurrences: int = 1
    status: Status = "open"
    acked_by: str | None = None
    acked_at: UtcDatetime | None = None
    dedup_key: str
    evidence: list[Evidence] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    delivery: Delivery = Delivery()

    @property
    def order_key(self) -> str:
        return f"{format_utc(self.created_at)}#{self.id}"

    def to_item(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "order_key": self.order_key}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Alert:
        return cls.model_validate(item_body(item))


class AlertDraft(BaseModel):
    """An alert before the center decides whether it is new or a repeat of an open one."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    severity: Severity
    title: str
    summary: str
    model_version: str | None = None
    evidence: Evidence | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    scope: str | None = Field(None, description="Narrows deduplication (e.g. one retraining request each).")

    @property
    def dedup_key(self) -> str:
        """Repeats of one kind for one model version are one incident (the detector that fired is evidence)."""
        return f"{self.kind}:{self.model_version or '-'}" + (f":{self.scope}" if self.scope else "")

    def to_alert(self, now: datetime) -> Alert:
        evidence = self.evidence
        return Alert(
            id=new_alert_id(now),
            kind=self.kind,
            severity=self.severity,
            title=self.title,
            summary=self.summary,
            model_version=self.model_version,
            statistic=evidence.statistic if evidence else None,
            threshold=evidence.threshold if evidence else None,
            window=evidence.window if evidence else None,
            created_at=now,
            last_seen_at=now,
            dedup_key=self.dedup_key,
            evidence=[evidence] if evidence else [],
            details=self.details,
        )


def new_alert_id(now: datetime) -> str:
    """Sortable by time, unique, short enough to type: ``al-20261126T1102-3f9a2c``."""
    return f"al-{now.strftime('%Y%m%dT%H%M')}-{secrets.token_hex(3)}"
