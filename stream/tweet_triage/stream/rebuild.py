"""Rebuild the results store from the topics: the topics are the record, the store is a view of them.

=============  ====================  =========================================================================
container      topic                 item, and when an existing item is replaced
=============  ====================  =========================================================================
predictions    ``tweets-scored``     :meth:`ScoredEvent.to_prediction`; the latest ``scored_at`` per tweet wins
feedback       ``tweets-feedback``   the label joined with the stored prediction (as the monitor does), received
                                     at the record's time; the latest ``labelled_at`` per (tweet, annotator) wins
alerts         ``tweets-alerts``     the last published state of each alert (retraining requests included)
=============  ====================  =========================================================================

Idempotent: only items that are missing or older than what the topic says are written, so a second run writes
nothing and leaves the same store. Predictions go first (feedback joins them). ``since`` reads only records
published at or after it. Records that cannot rebuild an item (scored events older than the tweet fields, malformed
ones: those are in ``tweets-dlq``) are counted as skipped. ``shadow`` has no topic: re-run the shadow worker.

Reading: every partition from its start up to the end offset measured when the read began (the true one, from a
fetch's high watermark — see :mod:`tweet_triage.broker.backlog`), without a consumer group. The records have the
fields of the dead-letter tools' topic reader (``topic``, ``partition``, ``offset``, ``key``, ``value``,
``timestamp_ms``); both read "everything the topic held when I started, once".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from tweet_triage.broker.topic_reader import ReadProgress, TopicReader, TopicRecord
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.errors import InvalidMessage, TriageError
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.feedback_store import FeedbackRecord
from tweet_triage.settings import Settings
from tweet_triage.store.bulk import write_all
from tweet_triage.store.cosmos import (
    ALERTS,
    FEEDBACK,
    PREDICTIONS,
    container_specs,
    ensure_schema,
    open_client,
    query,
)
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord, item_body

log = logging.getLogger(__name__)

REBUILDABLE: Final = (PREDICTIONS, FEEDBACK, ALERTS)  # in the order they are rebuilt
_STALL_S: Final = 60.0

Progress = Callable[[str, int, int], None]  # (topic, records read, records expected)


@dataclass(frozen=True)
class RebuildReport:
    container: str
    topic: str
    read: int  # records read from the topic
    skipped: int  # records that rebuild no item
    items: int  # distinct items the topic describes
    written: int  # missing or older in the store, written
    unchanged: int  # already as the topic says

    def line(self) -> str:
        return (
            f"{self.container}: {self.read:,} record(s) in {self.topic} → {self.items:,} item(s); "
            f"{self.written:,} written, {self.unchanged:,} already there"
            + (f", {self.skipped:,} record(s) unusable" if self.skipped else "")
        )


def topic_of(settings: Settings, container: str) -> str:
    kafka = settings.kafka
    return {PREDICTIONS: kafka.topic_scored, FEEDBACK: kafka.topic_feedback, ALERTS: kafka.topic_alerts}[container]


def rebuild(
    settings: Settings,
    *,
    containers: Iterable[str] = REBUILDABLE,
    since: datetime | None = None,
    on_progress: Progress | None = None,
) -> list[RebuildReport]:
    """Rebuild ``containers`` (any of predictions, feedback, alerts) from their topics; see the module docstring."""
    wanted = [name for name in REBUILDABLE if name in set(containers)]
    since_ms = None if since is None else int(since.timestamp() * 1000)
    client = open_client(settings)
    try:
        database = ensure_schema(client, settings)
        specs = container_specs(settings.cosmos)
        reports = []
        for role in wanted:
            topic = topic_of(settings, role)
            records = asyncio.run(read_topic(settings, topic, on_progress=on_progress))
            records = [r for r in records if since_ms is None or (r.timestamp_ms or 0) >= since_ms]
            container = database.get_container_client(specs[role].name)
            reports.append(_REBUILDERS[role](container, settings, topic, records))
        return reports
    finally:
        client.close()


async def read_topic(settings: Settings, topic: str, *, on_progress: Progress | None = None) -> list[TopicRecord]:
    """Every record ``topic`` held when the read began, oldest first per partition (no consumer group)."""

    def progress(p: ReadProgress) -> None:
        if on_progress is not None:
            on_progress(topic, p.read, p.expected)

    async with TopicReader(settings, topic, stall_s=_STALL_S) as reader:
        return [record async for record in reader.records(on_progress=progress)]


# ---- one rebuilder per container ------------------------------------------------------------------------------


def _predictions(container: Any, settings: Settings, topic: str, records: list[TopicRecord]) -> RebuildReport:
    latest: dict[str, dict[str, Any]] = {}
    skipped = 0
    for record in records:
        prediction = _prediction(record)
        if prediction is None:
            skipped += 1
            continue
        item = prediction.to_item()
        current = latest.get(prediction.id)
        if current is None or item["scored_at"] >= current["scored_at"]:
            latest[prediction.id] = item
    stored = {row["id"]: row.get("scored_at") for row in query(container, settings, "SELECT c.id, c.scored_at FROM c")}
    todo = [item for key, item in latest.items() if not _at_least(stored.get(key), item["scored_at"])]
    return _write(container, settings, PREDICTIONS, topic, records, skipped, len(latest), todo)


def _feedback(container: Any, settings: Settings, topic: str, records: list[TopicRecord]) -> RebuildReport:
    latest: dict[tuple[str, str], tuple[FeedbackEvent, TopicRecord]] = {}
    skipped = 0
    for record in records:
        try:
            event = FeedbackEvent.from_json(record.value or b"")
        except InvalidMessage:
            skipped += 1
            continue
        key = (event.tweet_id, event.annotator)
        current = latest.get(key)
        if current is None or event.labelled_at >= current[0].labelled_at:
            latest[key] = (event, record)
    stored = {
        (row["tweet_id"], row["annotator"]): row.get("labelled_at")
        for row in query(container, settings, "SELECT c.tweet_id, c.annotator, c.labelled_at FROM c")
    }
    todo: list[dict[str, Any]] = []
    with PredictionReader.open(settings) as predictions:
        for key, (event, record) in latest.items():
            if _at_least(stored.get(key), event.model_dump(mode="json")["labelled_at"]):
                continue
            received = datetime.fromtimestamp((record.timestamp_ms or 0) / 1000, UTC)
            todo.append(FeedbackRecord.join(event, predictions.get(event.tweet_id), received).to_item())
    return _write(container, settings, FEEDBACK, topic, records, skipped, len(latest), todo)


def _alerts(container: Any, settings: Settings, topic: str, records: list[TopicRecord]) -> RebuildReport:
    latest: dict[str, dict[str, Any]] = {}
    skipped = 0
    for record in records:  # one key per alert, so one partition: later offsets are later states
        try:
            item = json.loads(record.value or b"")
            Alert.from_item(item)
        except (ValueError, ValidationError):
            skipped += 1
            continue
        latest[str(item["id"])] = item
    stored = {row["id"]: item_body(row) for row in query(container, settings, "SELECT * FROM c")}
    todo = [item for key, item in latest.items() if stored.get(key) != item]
    return _write(container, settings, ALERTS, topic, records, skipped, len(latest), todo)


def _prediction(record: TopicRecord) -> PredictionRecord | None:
    try:
        return ScoredEvent.from_json(record.value or b"").to_prediction()
    except (InvalidMessage, ValidationError, TriageError):
        return None


def _at_least(stored: object, wanted: str) -> bool:
    """Is the stored version (a fixed-width UTC time) at least as new as the topic's?"""
    return isinstance(stored, str) and stored >= wanted


def _write(
    container: Any,
    settings: Settings,
    role: str,
    topic: str,
    records: list[TopicRecord],
    skipped: int,
    items: int,
    todo: list[dict[str, Any]],
) -> RebuildReport:
    written = write_all(container, settings, todo, mode="upsert")
    report = RebuildReport(role, topic, len(records), skipped, items, written, items - written)
    log.info("%s", report.line())
    return report


_REBUILDERS: Final = {PREDICTIONS: _predictions, FEEDBACK: _feedback, ALERTS: _alerts}
