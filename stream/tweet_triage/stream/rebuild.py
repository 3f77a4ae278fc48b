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

Memory stays bounded whatever the topic holds: records are handled :data:`CHUNK_RECORDS` at a time as they are read
(the newest state of each item in the chunk is compared with the store and written if newer), so what is kept is one
chunk plus, per item, its id and version time (about 100 bytes: 100,000 predictions rebuild in tens of MB, where
holding every record took hundreds).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

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
CHUNK_RECORDS: Final = 2_000  # records handled at a time (and kept in memory)
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
    chunk_records: int = CHUNK_RECORDS,
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
            rebuilder = _REBUILDERS[role](database.get_container_client(specs[role].name), settings)
            reading = _feed(settings, topic, rebuilder, since_ms=since_ms, chunk=chunk_records, on_progress=on_progress)
            asyncio.run(reading)
            report = rebuilder.tally.report(role, topic)
            log.info("%s", report.line())
            reports.append(report)
        return reports
    finally:
        client.close()


async def _feed(
    settings: Settings,
    topic: str,
    rebuilder: _Rebuilder,
    *,
    since_ms: int | None,
    chunk: int,
    on_progress: Progress | None,
) -> None:
    """Hand ``rebuilder`` the topic's records ``chunk`` at a time, as they are read (the store calls in a thread)."""

    def progress(p: ReadProgress) -> None:
        if on_progress is not None:
            on_progress(topic, p.read, p.expected)

    pending: list[TopicRecord] = []
    async with TopicReader(settings, topic, stall_s=_STALL_S) as reader:
        async for record in reader.records(on_progress=progress):
            if since_ms is not None and (record.timestamp_ms or 0) < since_ms:
                continue
            pending.append(record)
            if len(pending) >= chunk:
                await asyncio.to_thread(rebuilder.add, pending)
                pending = []
    if pending:
        await asyncio.to_thread(rebuilder.add, pending)


# ---- one rebuilder per container ------------------------------------------------------------------------------


@dataclass
class _Tally:
    read: int = 0
    skipped: int = 0
    items: set[object] = field(default_factory=set)  # keys of the items the topic describes
    written: set[object] = field(default_factory=set)  # keys written (once or more)

    def report(self, role: str, topic: str) -> RebuildReport:
        items, written = len(self.items), len(self.written)
        return RebuildReport(role, topic, self.read, self.skipped, items, written, items - written)


class _Rebuilder(Protocol):
    tally: _Tally

    def add(self, records: list[TopicRecord]) -> None:
        """Write what these records say that the store lacks or holds in an older state."""
        ...


class _Predictions:
    """The latest ``scored_at`` per tweet wins; the store's versions are read once (id and time only)."""

    def __init__(self, container: Any, settings: Settings) -> None:
        self._container, self._settings, self.tally = container, settings, _Tally()
        rows = query(container, settings, "SELECT c.id, c.scored_at FROM c")
        self._stored: dict[str, object] = {row["id"]: row.get("scored_at") for row in rows}

    def add(self, records: list[TopicRecord]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            self.tally.read += 1
            prediction = _prediction(record)
            if prediction is None:
                self.tally.skipped += 1
                continue
            item = prediction.to_item()
            current = latest.get(prediction.id)
            if current is None or item["scored_at"] >= current["scored_at"]:
                latest[prediction.id] = item
        self.tally.items.update(latest)
        todo = [item for key, item in latest.items() if not _at_least(self._stored.get(key), item["scored_at"])]
        write_all(self._container, self._settings, todo, mode="upsert")
        for item in todo:
            self._stored[item["id"]] = item["scored_at"]
            self.tally.written.add(item["id"])


class _Feedback:
    """The latest ``labelled_at`` per (tweet, annotator) wins, joined with the stored prediction."""

    def __init__(self, container: Any, settings: Settings) -> None:
        self._container, self._settings, self.tally = container, settings, _Tally()
        rows = query(container, settings, "SELECT c.tweet_id, c.annotator, c.labelled_at FROM c")
        self._stored: dict[object, object] = {
            (row["tweet_id"], row["annotator"]): row.get("labelled_at") for row in rows
        }

    def add(self, records: list[TopicRecord]) -> None:
        latest: dict[tuple[str, str], tuple[FeedbackEvent, TopicRecord]] = {}
        for record in records:
            self.tally.read += 1
            try:
                event = FeedbackEvent.from_json(record.value or b"")
            except InvalidMessage:
                self.tally.skipped += 1
                continue
            key = (event.tweet_id, event.annotator)
            current = latest.get(key)
            if current is None or event.labelled_at >= current[0].labelled_at:
                latest[key] = (event, record)
        self.tally.items.update(latest)
        todo: list[tuple[tuple[str, str], str, dict[str, Any]]] = []
        with PredictionReader.open(self._settings) as predictions:
            for key, (event, record) in latest.items():
                labelled_at = event.model_dump(mode="json")["labelled_at"]
                if _at_least(self._stored.get(key), labelled_at):
                    continue
                received = datetime.fromtimestamp((record.timestamp_ms or 0) / 1000, UTC)
                item = FeedbackRecord.join(event, predictions.get(event.tweet_id), received).to_item()
                todo.append((key, labelled_at, item))
        write_all(self._container, self._settings, [item for _, _, item in todo], mode="upsert")
        for key, labelled_at, _ in todo:
            self._stored[key] = labelled_at
            self.tally.written.add(key)


class _Alerts:
    """The last published state of each alert (one key per alert, so one partition: later offsets are later)."""

    def __init__(self, container: Any, settings: Settings) -> None:
        self._container, self._settings, self.tally = container, settings, _Tally()
        rows = query(container, settings, "SELECT * FROM c")  # alerts are few: whole items are compared
        self._stored: dict[str, dict[str, Any]] = {row["id"]: item_body(row) for row in rows}

    def add(self, records: list[TopicRecord]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            self.tally.read += 1
            try:
                item = json.loads(record.value or b"")
                Alert.from_item(item)
            except (ValueError, ValidationError):
                self.tally.skipped += 1
                continue
            latest[str(item["id"])] = item
        self.tally.items.update(latest)
        todo = [item for key, item in latest.items() if self._stored.get(key) != item]
        write_all(self._container, self._settings, todo, mode="upsert")
        for item in todo:
            self._stored[str(item["id"])] = item
            self.tally.written.add(str(item["id"]))


def _prediction(record: TopicRecord) -> PredictionRecord | None:
    try:
        return ScoredEvent.from_json(record.value or b"").to_prediction()
    except (InvalidMessage, ValidationError, TriageError):
        return None


def _at_least(stored: object, wanted: str) -> bool:
    """Is the stored version (a fixed-width UTC time) at least as new as the topic's?"""
    return isinstance(stored, str) and stored >= wanted


_REBUILDERS: Final[dict[str, Callable[[Any, Settings], _Rebuilder]]] = {
    PREDICTIONS: _Predictions,
    FEEDBACK: _Feedback,
    ALERTS: _Alerts,
}
