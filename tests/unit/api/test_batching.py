"""Server-side batching: concurrent requests share model calls, and each still gets exactly its own answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import anyio
import httpx
import pytest

from tests.unit.api.conftest import make_runtime
from tests.unit.api.fakes import RecordingPublisher, SwappableModel, WordScorer
from tweet_triage.api.app import create_app
from tweet_triage.api.batching import BatchingScorer
from tweet_triage.model.predictor import Prediction


@dataclass
class GatedScorer(WordScorer):
    """A WordScorer whose first model call holds until the test opens the gate, so others queue behind it."""

    entered: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    fail_next: bool = False

    def predict(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> list[Prediction]:
        self.entered.set()
        self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the model call failed")
        return super().predict(texts, keywords)


def run(test: Callable[[BatchingScorer], Awaitable[None]], **options: float) -> None:
    async def main() -> None:
        batcher = BatchingScorer(limiter=anyio.CapacityLimiter(1), **options)  # type: ignore[arg-type]
        try:
            await test(batcher)
        finally:
            await batcher.aclose()

    asyncio.run(main())


async def queued(batcher: BatchingScorer, count: int) -> None:
    """Until ``count`` requests wait (each task runs up to its await within a few loop turns)."""
    while batcher.waiting < count:
        await asyncio.sleep(0)


async def hold_model(batcher: BatchingScorer, scorer: GatedScorer) -> asyncio.Task[list[Prediction]]:
    """A first request that occupies the model until ``scorer.gate`` opens."""
    first = asyncio.create_task(batcher.predict(scorer, ["first"]))
    await asyncio.to_thread(scorer.entered.wait)
    return first


def assert_scored_alike(predictions: list[Prediction], scorer: WordScorer, texts: list[str]) -> None:
    alone = scorer.predict(texts)
    assert [p.probabilities for p in predictions] == [p.probabilities for p in alone]


def test_requests_waiting_behind_a_model_call_share_the_next_one() -> None:
    scorer = GatedScorer()
    requests = [["flood on Main Street", "lovely day"], ["help trapped"], ["fire fire", "calm", "trapped in flood"]]

    async def test(batcher: BatchingScorer) -> None:
        first = await hold_model(batcher, scorer)
        tasks = [asyncio.create_task(batcher.predict(scorer, texts)) for texts in requests]
        await queued(batcher, len(requests))
        scorer.gate.set()
        answers = await asyncio.gather(*tasks)
        await first
        assert scorer.calls == [1, 6]  # the first alone, then the three waiting requests in one call
        for texts, answer in zip(requests, answers, strict=True):
            assert_scored_alike(answer, WordScorer(), texts)

    run(test, window_s=0)


def test_a_model_call_takes_at_most_max_tweets_but_never_splits_a_request() -> None:
    scorer = GatedScorer()
    sizes = [2, 2, 5, 1]

    async def test(batcher: BatchingScorer) -> None:
        first = await hold_model(batcher, scorer)
        tasks = [asyncio.create_task(batcher.predict(scorer, [f"tweet {n}"] * n)) for n in sizes]
        await queued(batcher, len(sizes))
        scorer.gate.set()
        answers = await asyncio.gather(first, *tasks)
        assert scorer.calls == [1, 4, 5, 1]  # 2+2, then the 5 alone (over the maximum of 4), then 1
        assert [len(a) for a in answers] == [1, *sizes]

    run(test, window_s=0, max_tweets=4)


def test_requests_for_different_model_versions_are_never_scored_together() -> None:
    old, new = GatedScorer(version="7"), WordScorer(version="8")

    async def test(batcher: BatchingScorer) -> None:
        first = await hold_model(batcher, old)
        tasks = [
            asyncio.create_task(batcher.predict(scorer, ["flood"]))
            for scorer in (old, old, new, new, old)  # a hot swap and back while they wait
        ]
        await queued(batcher, len(tasks))
        old.gate.set()
        answers = await asyncio.gather(*tasks)
        await first
        assert [a[0].model_version for a in answers] == ["7", "7", "8", "8", "7"]
        assert old.calls == [1, 2, 1] and new.calls == [2]

    run(test, window_s=0)


def test_a_failed_model_call_is_the_answer_of_its_requests_only() -> None:
    scorer = GatedScorer(fail_next=True)

    async def test(batcher: BatchingScorer) -> None:
        first = await hold_model(batcher, scorer)
        scorer.gate.set()
        with pytest.raises(RuntimeError, match="the model call failed"):
            await first
        later = await batcher.predict(scorer, ["fire", "calm"])
        assert_scored_alike(later, WordScorer(), ["fire", "calm"])

    run(test, window_s=0)


def test_a_request_cancelled_while_waiting_is_left_out() -> None:
    scorer = GatedScorer()

    async def test(batcher: BatchingScorer) -> None:
        first = await hold_model(batcher, scorer)
        gone = asyncio.create_task(batcher.predict(scorer, ["client went away"] * 3))
        kept = asyncio.create_task(batcher.predict(scorer, ["flood"]))
        await queued(batcher, 2)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        scorer.gate.set()
        assert len(await kept) == 1
        await first
        assert scorer.calls == [1, 1]

    run(test, window_s=0)


def test_a_full_batch_does_not_wait_for_the_window() -> None:
    scorer = WordScorer()

    async def test(batcher: BatchingScorer) -> None:
        tasks = [asyncio.create_task(batcher.predict(scorer, ["flood", "calm"])) for _ in range(2)]
        answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)  # the window is an hour
        assert scorer.calls == [4]
        assert [len(a) for a in answers] == [2, 2]

    run(test, window_s=3_600, max_tweets=4)


def test_closing_answers_waiting_requests_with_an_error() -> None:
    scorer = GatedScorer()

    async def test(batcher: BatchingScorer) -> None:
        first = await hold_model(batcher, scorer)
        waiting = asyncio.create_task(batcher.predict(scorer, ["flood"]))
        await queued(batcher, 1)
        closing = asyncio.create_task(batcher.aclose())
        scorer.gate.set()
        await closing
        for task in (first, waiting):
            with pytest.raises(RuntimeError, match="shutting down"):
                await task

    run(test, window_s=0)


def test_the_api_answers_concurrent_requests_each_with_its_own_tweets() -> None:
    scorer = WordScorer()
    runtime = make_runtime(SwappableModel(scorer), RecordingPublisher())
    bodies = [{"tweets": [{"id": f"{r}-{i}", "text": f"flood {r} {i}"} for i in range(r % 3 + 1)]} for r in range(12)]

    async def main() -> None:
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            answers = await asyncio.gather(*(client.post("/v1/predict", json=body) for body in bodies))
            metrics = (await client.get("/metrics")).text
        for body, answer in zip(bodies, answers, strict=True):
            assert answer.status_code == 200, answer.text
            assert [p["id"] for p in answer.json()["predictions"]] == [t["id"] for t in body["tweets"]]
        assert sum(scorer.calls) == sum(len(b["tweets"]) for b in bodies)
        assert "triage_api_batch_tweets_count" in metrics
        await app.state.batcher.aclose()

    asyncio.run(main())
