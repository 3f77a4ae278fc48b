"""The aiokafka producer behind :class:`~tweet_triage.broker.sending.Sender`: one outcome per message.

"Sent" means acknowledged by the broker (``acks=all``), not buffered. A message refused before it leaves (too
large) fails alone; when the broker is away, the rest of the call fails at once instead of each message waiting out
its own metadata timeout — :func:`~tweet_triage.broker.sending.send_all` then retries them with backoff. No
idempotent producer: neither Event Hubs nor the local broker supports it, and upserts make duplicates harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError

from tweet_triage.broker.connection import started_producer
from tweet_triage.broker.sending import OutboundMessage
from tweet_triage.settings import Settings


class KafkaSender:
    """``await sender.start()``, then ``send_many`` (key, value) pairs or :class:`OutboundMessage` (with headers)."""

    def __init__(self, settings: Settings, *, linger_ms: int = 2) -> None:
        self._settings = settings
        self._linger_ms = linger_ms
        self._producer: Any = None

    async def start(self) -> None:
        self._producer = await started_producer(self._settings, acks="all", linger_ms=self._linger_ms)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_many(
        self, topic: str, messages: Sequence[tuple[bytes | None, bytes] | OutboundMessage]
    ) -> list[BaseException | None]:
        if self._producer is None:
            raise RuntimeError("KafkaSender is not started")
        deliveries: list[asyncio.Future[Any]] = []
        for message in messages:
            outbound = message if isinstance(message, OutboundMessage) else OutboundMessage(*message)
            try:
                deliveries.append(
                    await self._producer.send(
                        topic, value=outbound.value, key=outbound.key, headers=list(outbound.headers) or None
                    )
                )
            except KafkaError as exc:  # refused before sending: too large, or no broker to tell where it goes
                deliveries.append(_failed(exc))
                if exc.retriable:  # the broker is away: do not wait out a timeout for each remaining message
                    deliveries += [_failed(exc) for _ in messages[len(deliveries) :]]
                    break
        outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
        return [outcome if isinstance(outcome, BaseException) else None for outcome in outcomes]


def _failed(error: BaseException) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future
