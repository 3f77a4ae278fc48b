"""In-memory twins of the results store: the ``predictions`` container (writer and reader), ``alerts`` and
``feedback``.

Each twin holds what its container would hold — JSON item bodies by id — and answers by the rules of the Cosmos DB
implementation: upserts keyed by the item id, order by the stored ``order_key``, partial updates of alerts that touch
only their own fields. tests/contracts/stores.py states those rules once and runs against a twin
(tests/unit/contracts) and the real store (tests/integration/contracts), so a twin that drifts from the real store
fails there. Unit tests use the twins wherever code needs a store.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tweet_triage.clock import format_utc
from tweet_triage.errors import AlertNotFound, RejectedWrite, StoreOutage, StoreRejected
from tweet_triage.monitoring.alerts.records import Alert, AlertKind, Status
from tweet_triage.monitoring.alerts.store import AlertUpdates
from tweet_triage.monitoring.feedback_store import FeedbackRecord, feedback_id
from tweet_triage.store.reader import DEFAULT_PAGE_SIZE, LabelCounts
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.writer import WriteReport

REFUSED_STATUS = 413  # what the twin answers for an id it was told to refuse: "too large", refused for good


def _stored(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item as the store keeps it: a copy through JSON. NaN raises ValueError (Cosmos DB refuses it, the local
    server fails with 500: neither stores it)."""
    body: dict[str, Any] = json.loads(json.dumps(item, allow_nan=False))
    return body


def _by_order_key(items: Iterable[dict[str, Any]], *, newest_first: bool = False) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: str(item["order_key"]), reverse=newest_first)


class PredictionStoreTwin(LabelCounts):
    """The ``predictions`` container: :class:`~tweet_triage.store.writer.PredictionSink` and
    :class:`~tweet_triage.store.reader.PredictionQueries` over one dict.

    ``refuse``: tweet ids the store refuses for good on write (HTTP 413), as Cosmos DB refuses an item that is too
    large; the rest of the call is written and the refused ones raised together as ``StoreRejected``.
    """

    def __init__(self, *, refuse: Collection[str] = ()) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.refuse = set(refuse)

    @property
    def records(self) -> list[PredictionRecord]:
        """What is stored, in the order the ids were first written (for assertions; the real store has no order)."""
        return [PredictionRecord.from_item(item) for item in self.items.values()]

    def put(self, records: Iterable[PredictionRecord]) -> None:
        """Store ``records`` at once, as if the worker had written them (for a test's starting state)."""
        for record in records:
            self.items[record.id] = _stored(record.to_item())

    # ---- PredictionSink -----------------------------------------------------------------------------------------

    async def write(self, records: Iterable[PredictionRecord]) -> WriteReport:
        batch = {record.id: record for record in records}  # within one call the last record of an id wins
        self.put(record for tweet_id, record in batch.items() if tweet_id not in self.refuse)
        refused = [
            RejectedWrite(tweet_id, REFUSED_STATUS, "request entity too large")
            for tweet_id in batch
            if tweet_id in self.refuse
        ]
        if refused:
            raise StoreRejected(refused)
        return WriteReport(written=len(batch), rounds=1, waited_s=0.0)

    # ---- PredictionQueries --------------------------------------------------------------------------------------

    def count(self, label: str | None = None) -> int:
        return sum(1 for item in self.items.values() if label is None or item["label"] == label)

    def find(self, tweet_ids: Sequence[str]) -> dict[str, PredictionRecord]:
        return {i: PredictionRecord.from_item(self.items[i]) for i in dict.fromkeys(tweet_ids) if i in self.items}

    def get(self, tweet_id: str) -> PredictionRecord | None:
        item = self.items.get(tweet_id)
        return PredictionRecord.from_item(item) if item is not None else None

    def tail(self, n: int) -> list[PredictionRecord]:
        if n < 1:
            return []
        return [PredictionRecord.from_item(item) for item in _by_order_key(self.items.values(), newest_first=True)[:n]]

    def iter_items(self, *, newest_first: bool = False, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        for item in _by_order_key(self.items.values(), newest_first=newest_first):
            yield dict(item)

    def export(self, path: Path, *, page_size: int = DEFAULT_PAGE_SIZE) -> int:
        lines = [
            json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in self.iter_items(page_size=page_size)
        ]
        path.write_text("".join(lines), encoding="utf-8")
        return len(lines)


class AlertStoreTwin(AlertUpdates):
    """The ``alerts`` container: :class:`~tweet_triage.monitoring.alerts.store.AlertStorage` over one dict.

    Partial updates change only their own fields of the stored item (like ``patch_item``); one of an alert that is
    not stored raises ``StoreOutage`` (HTTP 404), as the real store does.
    """

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def save(self, alert: Alert) -> Alert:
        self.items[alert.id] = _stored(alert.to_item())
        return alert

    def get(self, alert_id: str) -> Alert:
        item = self.items.get(alert_id)
        if item is None:
            raise AlertNotFound(f"no alert {alert_id!r}; `triage alerts list` shows the recent ones")
        return Alert.from_item(item)

    def recent(
        self,
        *,
        status: Status | None = None,
        kind: AlertKind | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        found = [
            item
            for item in _by_order_key(self.items.values(), newest_first=True)
            if (status is None or item["status"] == status)
            and (kind is None or item["kind"] == kind)
            and (since is None or item["order_key"] >= format_utc(since))
        ]
        return [Alert.from_item(item) for item in found[: max(1, limit)]]

    def latest(self, dedup_key: str) -> Alert | None:
        newest = _by_order_key(self.items.values(), newest_first=True)
        return next((Alert.from_item(item) for item in newest if item["dedup_key"] == dedup_key), None)

    def undelivered(self, *, due: datetime, limit: int = 50) -> list[Alert]:
        found = [
            item
            for item in _by_order_key(self.items.values())
            if item["delivery"]["status"] == "pending"
            and (
                item["delivery"].get("next_attempt_at") is None
                or item["delivery"]["next_attempt_at"] <= format_utc(due)
            )
        ]
        return [Alert.from_item(item) for item in found[: max(1, limit)]]

    def _patch(self, alert_id: str, fields: Mapping[str, Any]) -> None:
        if alert_id not in self.items:
            raise StoreOutage(f"no alert {alert_id!r} to update (HTTP 404)", status=404, schema_missing=True)
        self.items[alert_id] = {**self.items[alert_id], **_stored(fields)}


class FeedbackStoreTwin:
    """The ``feedback`` container: :class:`~tweet_triage.monitoring.feedback_store.FeedbackStorage` over one dict
    (one item per tweet and annotator). ``saves`` counts the writes."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.saves = 0

    def save(self, record: FeedbackRecord) -> None:
        self.saves += 1
        self.items[record.id] = _stored(record.to_item())

    def get(self, tweet_id: str, annotator: str) -> FeedbackRecord | None:
        item = self.items.get(feedback_id(tweet_id, annotator))
        return FeedbackRecord.from_item(item) if item is not None else None

    def recent(self, *, predicted_version: str, limit: int) -> list[FeedbackRecord]:
        newest = _by_order_key(self.items.values(), newest_first=True)
        matching = [item for item in newest if item["predicted_version"] == predicted_version][:limit]
        return [FeedbackRecord.from_item(item) for item in reversed(matching)]

    def iter_all(self, *, page_size: int = 500) -> Iterator[FeedbackRecord]:
        for item in _by_order_key(self.items.values()):
            yield FeedbackRecord.from_item(item)
