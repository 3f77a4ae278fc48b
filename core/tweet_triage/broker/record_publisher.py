"""Publishing records from synchronous code (the alert store, the CLI): a blocking send that returns once the broker
acknowledged the record (``acks=all``), on an aiokafka producer that runs in its own event-loop thread.

Used for records whose store is a view of a topic: every stored state of an alert goes to ``tweets-alerts``, so the
``alerts`` container can be rebuilt from it. A broker that is down is waited for up to ``wait_s``; then
:class:`PublishFailed` says so (the caller's store already holds the record).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.errors import TriageError
from tweet_triage.settings import Settings

log = logging.getLogger(__name__)


class PublishFailed(TriageError):
    """The broker did not acknowledge a record in time."""


class RecordPublisher:
    """``with RecordPublisher(settings) as publisher: publisher.send(topic, key, value)``; thread-safe."""

    def __init__(self, settings: Settings, *, wait_s: float = 30.0) -> None:
        self._settings = settings
        self._wait_s = wait_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._producer: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record and wait for the broker's acknowledgement (raises PublishFailed)."""
        loop = self._started()
        future: Future[None] = asyncio.run_coroutine_threadsafe(self._send(topic, key, value), loop)
        try:
            future.result(timeout=self._wait_s + 5)
        except Exception as exc:
            future.cancel()
            raise PublishFailed(
                f"the broker at {self._settings.kafka_bootstrap} did not acknowledge a record for {topic!r}: {exc}"
            ) from exc

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        if self._producer is not None:
            asyncio.run_coroutine_threadsafe(self._producer.stop(), loop).result(timeout=self._wait_s)
            self._producer = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=self._wait_s)
        loop.close()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="record-publisher", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _send(self, topic: str, key: bytes, value: bytes) -> None:
        async with asyncio.timeout(self._wait_s):
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **kafka_client_options(self._settings), acks="all", enable_idempotence=False
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            await self._producer.send_and_wait(topic, value=value, key=key)
