"""The publishing loop: chunks of tweets, a steady rate, ``published_at`` stamped at send time, a final report.

Up to ``publisher.max_in_flight`` chunks wait for their acknowledgements at once, so the offered rate does not
silently fall to chunk size / acknowledgement latency (10 tweets per 300 ms is 33 tweets/s, whatever ``--rate``
says); a publisher that must send one chunk at a time says 1.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Final, Protocol, Self

from tweet_triage.clock import utc_now
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.stream.producer.rate import TokenBucket

log = logging.getLogger(__name__)

MAX_CHUNK: Final = 500
CHUNKS_PER_SECOND: Final = 20  # with --rate: small chunks keep the offered load steady
MAX_FAILED_CHUNKS_IN_A_ROW: Final = 3


class Publisher(Protocol):
    """Sends tweets somewhere; one outcome per event (None = accepted by the broker / event hub)."""

    @property
    def destination(self) -> str: ...

    @property
    def max_in_flight(self) -> int:
        """Chunks that may wait for their acknowledgements at the same time."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def publish(self, events: Sequence[TweetEvent]) -> list[BaseException | None]: ...


@dataclass
class PublishReport:
    sent: int = 0
    failed: int = 0
    not_attempted: int = 0
    elapsed_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def chunk_size_for(rate: float | None) -> int:
    if rate is None:
        return MAX_CHUNK
    return max(1, min(MAX_CHUNK, int(rate / CHUNKS_PER_SECOND)))


async def publish_events(
    events: Iterable[TweetEvent],
    publisher: Publisher,
    *,
    rate: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    now: Callable[[], datetime] = utc_now,
) -> PublishReport:
    """Send ``events`` through an open ``publisher``; ``on_progress(sent, failed)`` after each chunk.

    Stops early (the rest counted as ``not_attempted``) when several chunks in a row fail completely: the broker is
    gone, and waiting out every remaining timeout helps nobody.
    """
    bucket = TokenBucket(rate, clock=clock) if rate is not None else None
    size = chunk_size_for(rate)
    report = PublishReport()
    started = clock()
    failed_in_a_row = 0
    in_flight: deque[tuple[int, asyncio.Task[list[BaseException | None]]]] = deque()

    async def settle_oldest() -> None:
        nonlocal failed_in_a_row
        count, task = in_flight.popleft()
        errors = [outcome for outcome in await task if outcome is not None]
        report.sent += count - len(errors)
        report.failed += len(errors)
        report.errors.update(f"{type(error).__name__}: {error}"[:200] for error in errors)
        failed_in_a_row = failed_in_a_row + 1 if len(errors) == count else 0
        if on_progress is not None:
            on_progress(report.sent, report.failed)

    iterator = iter(events)
    try:
        while chunk := list(itertools.islice(iterator, size)):
            if failed_in_a_row >= MAX_FAILED_CHUNKS_IN_A_ROW:
                report.not_attempted += len(chunk) + sum(1 for _ in iterator)
                log.error("giving up: %d chunks in a row failed completely", failed_in_a_row)
                break
            if bucket is not None and (wait := bucket.reserve(len(chunk))) > 0:
                await sleep(wait)
            stamp = now()
            stamped = [event.model_copy(update={"published_at": stamp}) for event in chunk]
            in_flight.append((len(chunk), asyncio.ensure_future(publisher.publish(stamped))))
            while len(in_flight) >= max(1, publisher.max_in_flight) or (in_flight and in_flight[0][1].done()):
                await settle_oldest()
        while in_flight:
            await settle_oldest()
    finally:
        for _, task in in_flight:  # cancelled from outside: nothing is left running behind the caller's back
            task.cancel()
    report.elapsed_s = clock() - started
    return report
