"""BatchPipeline with the scoring fakes: batch N+1 is scored while N is delivered, acknowledgements stay in order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from tests.twins.stores import PredictionStoreTwin
from tests.unit.stream.test_scoring import FakePredictor, FakePublisher, message, service, tweet
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.writer import WriteReport
from tweet_triage.stream.batch_pipeline import BatchPipeline
from tweet_triage.stream.scoring import BatchOutcome


class GatedWriter(PredictionStoreTwin):
    """A store whose writes wait until the test opens the gate (or fail, when told to)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail: BaseException | None = None

    async def write(self, records: Iterable[PredictionRecord]) -> WriteReport:
        self.started.set()
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return await super().write(records)


def batch(start: int, size: int = 3) -> list[Any]:
    return [message(i, tweet(f"t{i}", f"fire {i}")) for i in range(start, start + size)]


def test_the_next_batch_is_scored_while_the_previous_one_is_being_delivered() -> None:
    async def run() -> None:
        writer, predictor = GatedWriter(), FakePredictor("1")
        acked: list[str] = []

        async def acknowledge(token: str) -> None:
            acked.append(token)

        pipeline = BatchPipeline(service(predictor, writer, FakePublisher()), acknowledge=acknowledge)
        await pipeline.push(batch(0), "first")
        await writer.started.wait()  # the first batch is stuck in the store ...
        scoring = asyncio.create_task(pipeline.push(batch(3), "second"))
        while len(predictor.calls) < 2:  # ... and the second one gets scored meanwhile
            await asyncio.sleep(0)
        assert acked == [] and not scoring.done(), "the second delivery waits for the first"
        writer.gate.set()
        await scoring
        await pipeline.drain()
        assert acked == ["first", "second"]
        assert [r.id for r in writer.records] == [f"t{i}" for i in range(6)]

    asyncio.run(run())


def test_acknowledgements_follow_arrival_order_whatever_the_batch_sizes() -> None:
    async def run() -> None:
        writer = PredictionStoreTwin()
        acked: list[int] = []
        outcomes: list[BatchOutcome] = []

        async def acknowledge(token: int) -> None:
            await asyncio.sleep(0.001 * (5 - token))  # later batches would finish first if not kept in order
            acked.append(token)

        pipeline = BatchPipeline(
            service(FakePredictor("1"), writer, FakePublisher()), acknowledge=acknowledge, on_outcome=outcomes.append
        )
        start = 0
        for token, size in enumerate((5, 1, 4, 2, 3)):
            await pipeline.push(batch(start, size), token)
            start += size
        await pipeline.drain()
        assert acked == [0, 1, 2, 3, 4]
        assert [o.scored for o in outcomes] == [5, 1, 4, 2, 3]
        assert [r.id for r in writer.records] == [f"t{i}" for i in range(15)]

    asyncio.run(run())


def test_a_failed_delivery_surfaces_at_the_next_push_and_nothing_after_it_is_acknowledged() -> None:
    async def run() -> None:
        writer = GatedWriter()
        writer.fail = RuntimeError("the process lost its store client")
        acked: list[str] = []

        async def acknowledge(token: str) -> None:
            acked.append(token)

        pipeline = BatchPipeline(service(FakePredictor("1"), writer, FakePublisher()), acknowledge=acknowledge)
        await pipeline.push(batch(0), "first")
        writer.gate.set()
        with pytest.raises(RuntimeError, match="lost its store client"):
            await pipeline.push(batch(3), "second")
        await pipeline.drain()  # nothing left in flight
        assert acked == []
        assert not pipeline.in_flight

    asyncio.run(run())
