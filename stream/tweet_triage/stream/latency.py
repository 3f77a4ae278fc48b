"""Publish tweets and watch their scored events come back: publish→stored latency and whether the stream kept up.

The worker publishes a tweet's scored event only after its prediction is stored, so the arrival of that event on
``tweets-scored`` minus the producer's ``published_at`` is an upper bound of publish→stored. `make demo` and
`make bench-stream` both measure with :func:`publish_and_observe`, so their numbers mean the same thing.

*Kept up* means the backlog did not grow while tweets were offered: every tweet arrived, the stream's throughput
reached at least :data:`KEPT_UP_SHARE` of the offered rate, and the latency of the last tenth of the tweets stayed
within :data:`TAIL_LATENCY_S` (a growing backlog shows there first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt
from aiokafka import AIOKafkaConsumer, TopicPartition

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.clock import parse_iso8601, utc_now
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.settings import Settings
from tweet_triage.stream.producer.kafka import KafkaPublisher
from tweet_triage.stream.producer.run import publish_events

KEPT_UP_SHARE: Final = 0.95
TAIL_LATENCY_S: Final = 2.0


@dataclass(frozen=True)
class LatencyReport:
    offered: int
    latencies_s: npt.NDArray[np.float64]  # one per arrived tweet, in publish order
    throughput: float  # arrived tweets / (last arrival − first publish)
    offered_rate: float | None  # None: published as fast as possible

    @property
    def arrived(self) -> int:
        return len(self.latencies_s)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q)) if self.arrived else float("nan")

    @property
    def p50_s(self) -> float:
        return self.percentile(50)

    @property
    def p99_s(self) -> float:
        return self.percentile(99)

    @property
    def tail_s(self) -> float:
        """Mean latency of the last tenth of the tweets (publish order)."""
        tail = self.latencies_s[-max(1, self.arrived // 10) :]
        return float(tail.mean()) if self.arrived else float("nan")

    @property
    def kept_up(self) -> bool:
        if self.arrived < self.offered:
            return False
        if self.offered_rate is not None and self.throughput < KEPT_UP_SHARE * self.offered_rate:
            return False
        return self.tail_s <= TAIL_LATENCY_S

    def verdict(self) -> str:
        if self.kept_up:
            return "kept up"
        if self.arrived < self.offered:
            return f"fell behind: {self.offered - self.arrived} of {self.offered} not stored in time"
        return f"fell behind: throughput {self.throughput:.0f}/s, last tenth waited {self.tail_s:.1f} s on average"


async def publish_and_observe(
    settings: Settings, events: Sequence[TweetEvent], *, rate: float | None, timeout_s: float
) -> LatencyReport:
    """Publish ``events`` (at ``rate``) while reading their scored events; returns once all arrived or on timeout."""
    order = {event.id: i for i, event in enumerate(events)}
    arrivals: dict[str, tuple[float, float]] = {}  # id -> (latency, arrival time)
    # No consumer group: the partitions are assigned here and their positions resolved *before* anything is
    # published (a group's assignment, and so `seek_to_end`, happens later and would skip the first arrivals).
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.kafka.topic_scored
        await consumer.topics()  # fresh metadata
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise RuntimeError(f"topic {topic!r} has no partitions: is the stack up and the worker started?")
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)

        async def read() -> None:
            while len(arrivals) < len(order):
                batch = await consumer.getmany(timeout_ms=500)
                now = utc_now()
                for messages in batch.values():
                    for message in messages:
                        tweet_id, published_at = arrival(message.value)
                        if tweet_id in order and published_at is not None and tweet_id not in arrivals:
                            arrivals[tweet_id] = ((now - published_at).total_seconds(), now.timestamp())

        reader = asyncio.create_task(read())
        started = time.time()
        async with KafkaPublisher(settings) as publisher:
            await publish_events(events, publisher, rate=rate)
        with contextlib.suppress(TimeoutError):  # what did not arrive in time counts as not kept up
            await asyncio.wait_for(reader, timeout=timeout_s)
    finally:
        await consumer.stop()
    ordered = sorted(arrivals.items(), key=lambda item: order[item[0]])
    latencies = np.array([latency for _, (latency, _) in ordered], dtype=np.float64)
    last = max((at for _, at in arrivals.values()), default=started)
    return LatencyReport(len(events), latencies, len(arrivals) / max(last - started, 1e-9), rate)


def arrival(value: bytes | None) -> tuple[str | None, datetime | None]:
    """The tweet id and ``published_at`` of a scored event, read without validating the whole event: the observer
    runs on the machine it measures, and a full validation (the embedding decoded) cost it about 3 ms per tweet."""
    try:
        fields = json.loads(value or b"")
        published = fields.get("published_at")
        return str(fields.get("id")), parse_iso8601(published) if isinstance(published, str) else None
    except (ValueError, AttributeError):  # not a scored event of ours: not an arrival
        return None, None
