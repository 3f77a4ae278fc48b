"""The publishing loop and its token bucket, with a fake clock and a fake publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import pytest

from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.stream.producer.rate import TokenBucket
from tweet_triage.stream.producer.run import MAX_CHUNK, chunk_size_for, publish_events

STAMP = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakePublisher:
    destination = "fake"
    max_in_flight = 1

    def __init__(self, fail_ids: set[str] | None = None) -> None:
        self.sent: list[TweetEvent] = []
        self.chunks: list[int] = []
        self.fail_ids = fail_ids or set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def publish(self, events: Sequence[TweetEvent]) -> list[BaseException | None]:
        self.chunks.append(len(events))
        outcomes: list[BaseException | None] = []
        for event in events:
            if event.id in self.fail_ids or "*" in self.fail_ids:
                outcomes.append(ConnectionError("broker gone"))
            else:
                self.sent.append(event)
                outcomes.append(None)
        return outcomes


def tweets(n: int) -> list[TweetEvent]:
    return [TweetEvent(id=str(i), text=f"tweet {i}") for i in range(n)]


def test_token_bucket_keeps_the_long_run_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    waits = []
    for _ in range(5):
        wait = bucket.reserve(5)
        waits.append(wait)
        clock.now += wait
    assert waits == pytest.approx([0.5] * 5)  # 25 tokens in 2.5 s = 10/s
    clock.now += 60  # idle for a minute: at most one second's worth is saved up
    assert bucket.reserve(10) == 0 and bucket.reserve(1) == pytest.approx(0.1)


def test_token_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_chunks_follow_the_rate() -> None:
    assert chunk_size_for(None) == MAX_CHUNK
    assert chunk_size_for(200) == 10
    assert chunk_size_for(1) == 1
    assert chunk_size_for(1e9) == MAX_CHUNK


def test_everything_is_sent_stamped_and_reported_at_the_requested_rate() -> None:
    clock, publisher = FakeClock(), FakePublisher()
    progress: list[tuple[int, int]] = []
    report = asyncio.run(
        publish_events(
            tweets(100),
            publisher,
            rate=50,
            on_progress=lambda sent, failed: progress.append((sent, failed)),
            clock=clock,
            sleep=clock.sleep,
            now=lambda: STAMP,
        )
    )
    assert (report.sent, report.failed, report.not_attempted) == (100, 0, 0)
    assert [event.id for event in publisher.sent] == [str(i) for i in range(100)]
    assert all(event.published_at == STAMP for event in publisher.sent)
    assert publisher.chunks == [2] * 50
    assert report.elapsed_s == pytest.approx(2.0)  # 100 tweets at 50/s
    assert report.rate == pytest.approx(50)
    assert progress[-1] == (100, 0)


def test_failures_are_counted_with_their_reasons() -> None:
    clock, publisher = FakeClock(), FakePublisher(fail_ids={"3", "4"})
    report = asyncio.run(publish_events(tweets(10), publisher, clock=clock, sleep=clock.sleep))
    assert (report.sent, report.failed) == (8, 2)
    assert report.errors == {"ConnectionError: broker gone": 2}


def test_it_gives_up_when_the_destination_is_gone() -> None:
    clock, publisher = FakeClock(), FakePublisher(fail_ids={"*"})
    report = asyncio.run(publish_events(tweets(100), publisher, rate=200, clock=clock, sleep=clock.sleep))
    assert (report.sent, report.failed, report.not_attempted) == (0, 30, 70)


class GatedPublisher(FakePublisher):
    """Acknowledges no chunk until ``overlap`` chunks wait for their acknowledgements at the same time."""

    def __init__(self, max_in_flight: int, overlap: int) -> None:
        super().__init__()
        self.max_in_flight, self.overlap = max_in_flight, overlap
        self.waiting = self.most_waiting = 0
        self.gate = asyncio.Event()

    async def publish(self, events: Sequence[TweetEvent]) -> list[BaseException | None]:
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        if self.waiting >= self.overlap:
            self.gate.set()
        await self.gate.wait()
        self.waiting -= 1
        return await super().publish(events)


@pytest.mark.parametrize(("max_in_flight", "overlap"), [(1, 1), (16, 4), (3, 3)])
def test_chunks_wait_for_their_acknowledgements_together_up_to_the_publishers_limit(
    max_in_flight: int, overlap: int
) -> None:
    publisher = GatedPublisher(max_in_flight, overlap)  # 2,000 tweets are 4 chunks of MAX_CHUNK
    report = asyncio.run(asyncio.wait_for(publish_events(tweets(4 * MAX_CHUNK), publisher), timeout=10))
    assert (report.sent, report.failed) == (4 * MAX_CHUNK, 0)
    assert sorted(int(event.id) for event in publisher.sent) == list(range(4 * MAX_CHUNK))
    assert publisher.most_waiting == overlap
