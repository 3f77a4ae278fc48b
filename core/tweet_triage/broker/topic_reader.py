"""Reading a topic once through from the beginning: for tools that inspect a topic or rebuild from it.

Meant for both the dead-letter tools (``triage dlq list | show | replay`` read ``tweets-dlq``) and the store rebuild
(``triage results rebuild`` reads ``tweets-scored`` and ``tweets-feedback`` and writes Cosmos DB idempotently): the
topics are the record, and both need "everything the topic held when I started, once".

* No consumer group: partitions are assigned by hand and nothing is committed, so any number of readers can run
  beside the workers without moving anybody's offsets.
* Where it stops: at each partition's end offset when the reader opened. The local broker (Tansu) under-reports
  end offsets in ListOffsets when the producer sent batches, but a fetch's high watermark is right, so the ends come
  from :func:`true_end_offsets` (the larger of the two). A record found beyond the end (written after the start)
  is not yielded. Below the end offsets the reader waits up to ``stall_s`` for records. ``stop_at`` (partition →
  first offset not to read) bounds a second pass to exactly what a first pass saw (:attr:`TopicReader.read_up_to`).
* Filtering is the caller's (``accept``); ``on_progress`` is told after every fetch how far the read is, against the
  number of records the end offsets promised (a lower bound on Tansu).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.broker.inbound import InboundMessage, normalize_headers
from tweet_triage.broker.topics import TopicError
from tweet_triage.settings import Settings, local_stack_hint

log = logging.getLogger(__name__)

FETCH_MS = 200


@dataclass(frozen=True)
class TopicRecord:
    """One record as stored in the topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def position(self) -> str:
        """``PARTITION:OFFSET``: where the record is, and the id tools show for it."""
        return f"{self.partition}:{self.offset}"

    def inbound(self) -> InboundMessage:
        """The record as a delivered message."""
        seconds = None if self.timestamp_ms is None else self.timestamp_ms / 1000
        return InboundMessage(self.topic, self.partition, self.offset, self.key, self.value, seconds, self.headers)


@dataclass(frozen=True)
class ReadProgress:
    read: int  # records read so far (every one, accepted or not)
    accepted: int
    expected: int  # records the end offsets promised at the start: a lower bound on the local broker
    partitions_done: int
    partitions: int


class TopicReader:
    """``async with TopicReader(settings, topic) as reader: async for record in reader.records(): ...``"""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        stall_s: float = 60.0,
        stop_at: dict[int, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self.topic = topic
        self._stall_s = stall_s
        self._stop_at = stop_at
        self._clock = clock
        self._consumer: AIOKafkaConsumer | None = None
        self._ends: dict[TopicPartition, int] = {}
        self.exists = False
        self.expected = 0
        self.started_ms = 0
        self.read_up_to: dict[int, int] = {}  # partition -> first offset not read (for a second, bounded pass)

    async def __aenter__(self) -> Self:
        consumer = AIOKafkaConsumer(
            **kafka_client_options(self._settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            await consumer.topics()  # fetches metadata for every topic
            partitions = consumer.partitions_for_topic(self.topic)
            self.started_ms = int(self._clock() * 1000)
            if partitions:
                tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
                consumer.assign(tps)
                begins = await consumer.beginning_offsets(tps)
                if self._stop_at is None:
                    self._ends = await true_end_offsets(consumer, tps)
                else:  # exactly what an earlier pass read
                    self._ends = {tp: self._stop_at.get(tp.partition, begins[tp]) for tp in tps}
                await consumer.seek_to_beginning(*tps)
                self.exists = True
                self.expected = sum(max(self._ends[tp] - begins[tp], 0) for tp in tps)
                self.read_up_to = {tp.partition: begins[tp] for tp in tps}
        except KafkaError as exc:
            await consumer.stop()
            hint = local_stack_hint(self._settings)
            raise TopicError(
                f"cannot read topic {self.topic!r} at {self._settings.kafka_bootstrap}: {exc}.{hint}"
            ) from exc
        self._consumer = consumer
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def records(
        self,
        *,
        accept: Callable[[TopicRecord], bool] | None = None,
        on_progress: Callable[[ReadProgress], None] | None = None,
    ) -> AsyncIterator[TopicRecord]:
        """Every record the topic held at the start, oldest first per partition (see the module docstring)."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("TopicReader is not open; use it with `async with`")
        if not self.exists:
            return
        active = set(self._ends)
        read = accepted = 0
        quiet_since = time.monotonic()
        while active:
            try:
                batch: dict[Any, list[Any]] = await consumer.getmany(*active, timeout_ms=FETCH_MS)
            except KafkaError as exc:
                raise TopicError(f"reading topic {self.topic!r} failed: {exc}") from exc
            if any(batch.values()):
                quiet_since = time.monotonic()
            for tp, fetched in batch.items():
                for raw in fetched:
                    if self._beyond(tp, raw):
                        active.discard(tp)
                        consumer.pause(tp)
                        break
                    record = _record(raw)
                    self.read_up_to[tp.partition] = record.offset + 1
                    read += 1
                    if accept is None or accept(record):
                        accepted += 1
                        yield record
            active -= {tp for tp in active if self._reached_end(tp)}
            if active and time.monotonic() - quiet_since >= self._stall_s:
                raise TopicError(
                    f"topic {self.topic!r} stopped delivering below its end offsets "
                    f"({self._describe(active)}); try again"
                )
            if on_progress is not None:
                done = len(self._ends) - len(active)
                on_progress(ReadProgress(read, accepted, self.expected, done, len(self._ends)))

    def _reached_end(self, tp: TopicPartition) -> bool:
        return self.read_up_to.get(tp.partition, 0) >= self._ends[tp]

    def _beyond(self, tp: TopicPartition, raw: Any) -> bool:
        """True if ``raw`` is past what the topic held at the start."""
        return bool(raw.offset >= self._ends[tp])

    def _describe(self, partitions: set[TopicPartition]) -> str:
        return ", ".join(
            f"partition {tp.partition} at {self.read_up_to.get(tp.partition, 0)} of {self._ends[tp]}"
            for tp in sorted(partitions, key=lambda t: t.partition)
        )


async def true_end_offsets(probe: Any, tps: list[Any], *, fetch_ms: int = 1000) -> dict[Any, int]:
    """Partition -> the first offset not yet written, with ``probe`` (a group-less consumer) assigned to ``tps``.

    ListOffsets can under-report on the local broker; one fetch from the reported end brings the partition's high
    watermark, which does not. The larger of the two wins (on Event Hubs they agree)."""
    if not tps:
        return {}
    probe.assign(tps)
    reported: dict[Any, int] = await probe.end_offsets(tps)
    for tp in tps:
        probe.seek(tp, reported[tp])
    await probe.getmany(*tps, timeout_ms=fetch_ms)
    ends: dict[Any, int] = {}
    for tp in tps:
        high = probe.highwater(tp)
        ends[tp] = max(reported[tp], high) if isinstance(high, int) else reported[tp]
    return ends


async def read_record(
    settings: Settings, topic: str, partition: int, offset: int, *, idle_s: float = 2.0
) -> TopicRecord | None:
    """The one record at ``partition``:``offset`` of ``topic``, or None if the topic holds none there."""
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.topics()
        if partition not in (consumer.partitions_for_topic(topic) or set()):
            return None
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + idle_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=FETCH_MS)
            for raw in batch.get(tp, []):
                return _record(raw) if raw.offset == offset else None
        return None
    except KafkaError as exc:
        raise TopicError(f"cannot read topic {topic!r} at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await consumer.stop()


def _record(raw: Any) -> TopicRecord:
    timestamp = raw.timestamp if isinstance(raw.timestamp, int) and raw.timestamp >= 0 else None
    return TopicRecord(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value,
        timestamp_ms=timestamp,
        headers=normalize_headers(raw.headers),
    )
