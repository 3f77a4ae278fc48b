"""Publish tweets over the Kafka protocol (aiokafka): the local broker, or Event Hubs' Kafka endpoint (SASL_SSL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from tweet_triage.broker.connection import PRODUCE_BATCH_BYTES, kafka_client_options
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.errors import PublishError
from tweet_triage.settings import Settings, local_stack_hint

log = logging.getLogger(__name__)


# How long a tweet waits for others to share its produce request. At 200 tweets/s, 5 ms sent one request per tweet:
# one write (and, for every consumer, one read) of the durable local broker's object store each; 50 ms sends about
# five per partition, for 50 ms of latency (measured in docs/capacity.md).
LINGER_MS = 50


class KafkaPublisher:
    """Keyed by tweet id (so the broker's partitioner places a tweet by its id), acks from all replicas.

    No idempotent producer: neither Event Hubs nor the local broker supports it, and the worker's upserts make
    duplicates harmless anyway.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        topic: str | None = None,
        linger_ms: int = LINGER_MS,
        request_timeout_s: float = 30.0,
    ) -> None:
        self._settings = settings
        self.topic = topic or settings.kafka.topic_tweets
        self._linger_ms = linger_ms
        self._request_timeout_ms = int(request_timeout_s * 1000)
        self._producer: AIOKafkaProducer | None = None

    @property
    def destination(self) -> str:
        return f"Kafka topic {self.topic!r} at {self._settings.kafka_bootstrap}"

    @property
    def max_in_flight(self) -> int:
        """aiokafka batches concurrent sends per partition and keeps their order; the broker's acknowledgement
        latency (tens of ms, more on a durable local broker under load) would otherwise cap the rate."""
        return 16

    async def __aenter__(self) -> Self:
        producer = AIOKafkaProducer(
            **kafka_client_options(self._settings),
            acks="all",
            linger_ms=self._linger_ms,
            max_batch_size=PRODUCE_BATCH_BYTES,
            enable_idempotence=False,
            request_timeout_ms=self._request_timeout_ms,
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            hint = local_stack_hint(self._settings)
            raise PublishError(
                f"cannot reach the Kafka broker at {self._settings.kafka_bootstrap}: {exc}.{hint}"
            ) from exc
        self._producer = producer
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._producer is not None:
            await self._producer.stop()  # flushes what is still buffered
            self._producer = None

    async def publish(self, events: Sequence[TweetEvent]) -> list[BaseException | None]:
        producer = self._producer
        if producer is None:
            raise RuntimeError("KafkaPublisher is not open; use it with `async with`")

        async def send(event: TweetEvent) -> None:
            delivery = await producer.send(self.topic, value=event.to_json(), key=event.key)
            await delivery

        outcomes = await asyncio.gather(*(send(event) for event in events), return_exceptions=True)
        return [outcome if isinstance(outcome, BaseException) else None for outcome in outcomes]
