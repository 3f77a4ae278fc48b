"""Publishing feedback events to the ``tweets-feedback`` topic (the accuracy monitor consumes them).

:class:`KafkaFeedbackPublisher` uses the project's client options (local broker or the Event Hubs Kafka endpoint with
SASL) and waits for the broker's acknowledgement (``acks=all``), so a 202 from the API means the event is stored.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiokafka.errors import KafkaError

from tweet_triage.broker.connection import started_producer
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.errors import ErrorKind, TriageError
from tweet_triage.settings import Settings


class FeedbackUnavailable(TriageError):
    """The feedback topic could not take the event; the caller may retry."""

    kind = ErrorKind.UNAVAILABLE


class FeedbackPublisher(Protocol):
    @property
    def topic(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, event: FeedbackEvent) -> None: ...


class KafkaFeedbackPublisher:
    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._producer: Any = None

    @property
    def topic(self) -> str:
        return self._settings.kafka.topic_feedback

    async def start(self) -> None:
        """Nothing is sent at start; the producer connects on the first event, so the API starts without a broker."""

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, event: FeedbackEvent) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                producer = await self._connected()
                await producer.send_and_wait(self.topic, value=event.to_json(), key=event.key)
        except (KafkaError, TimeoutError, OSError) as exc:
            await self.stop()  # reconnect on the next event
            raise FeedbackUnavailable(
                f"the feedback topic {self.topic!r} at {self._settings.kafka_bootstrap} did not accept the event "
                f"({type(exc).__name__}); try again"
            ) from exc

    async def _connected(self) -> Any:
        if self._producer is None:
            self._producer = await started_producer(self._settings, acks="all")
        return self._producer
