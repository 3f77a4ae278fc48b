"""Concurrent ``/v1/predict`` requests scored together: server-side dynamic batching, as Triton and Ray Serve do it.

A request's tweets join a queue; one loop per event loop takes what is waiting, up to ``max_tweets``, and scores it in
one model call in a worker thread. While that call runs the next requests queue up, so under load the batches fill by
themselves; a request that finds the model idle waits at most ``window_s`` for company (0: none). Many small requests
then cost what one batch costs: tokenizing, padding into length-sorted chunks and one ONNX call instead of one each.

This is safe because scoring is batch-invariant: a tweet's score does not depend on its batch-mates (the predictor is
held to 1e-4 by its tests). Requests that came with different model versions (a hot swap between them) are never
scored together, so every answer still names the version that made it. A request that is cancelled (its client went
away) while it waits is left out; an error in a model call is the answer of every request in that call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from tweet_triage.api.service import Scorer
from tweet_triage.model.predictor import Prediction


@dataclass(frozen=True)
class _Request:
    scorer: Scorer
    texts: list[str]
    keywords: list[str | None]
    answer: asyncio.Future[list[Prediction]]


class BatchingScorer:
    """Scores concurrent requests of one process together; ``predict`` is what a route awaits."""

    def __init__(
        self,
        *,
        limiter: anyio.CapacityLimiter,
        window_s: float = 0.002,
        max_tweets: int = 64,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        if window_s < 0 or max_tweets < 1:
            raise ValueError(f"window_s must be >= 0 and max_tweets >= 1 (got {window_s}, {max_tweets})")
        self.limiter = limiter
        self.window_s = window_s
        self.max_tweets = max_tweets
        self.on_batch = on_batch  # (requests, tweets) of every model call, for metrics
        self._waiting: deque[_Request] = deque()
        self._arrived = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def predict(
        self, scorer: Scorer, texts: Sequence[str], keywords: Sequence[str | None] | None = None
    ) -> list[Prediction]:
        """The predictions for ``texts`` (in order), scored with whatever else is waiting for ``scorer``."""
        if not texts:
            return []
        self._ensure_serving()
        answer: asyncio.Future[list[Prediction]] = asyncio.get_running_loop().create_future()
        self._waiting.append(
            _Request(scorer, list(texts), list(keywords) if keywords is not None else [None] * len(texts), answer)
        )
        self._arrived.set()
        return await answer  # a cancelled request cancels its answer; the loop leaves it out

    @property
    def waiting(self) -> int:
        """Requests waiting for a model call (not counting the call running now)."""
        return sum(1 for r in self._waiting if not r.answer.done())

    async def aclose(self) -> None:
        """Stop the loop; requests still waiting are answered with an error rather than left hanging."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_waiting(RuntimeError("the scoring API is shutting down"))

    # ---- the loop ---------------------------------------------------------------------------------------------------

    def _ensure_serving(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first request, or a new event loop (a test client without its lifespan)
            self._loop, self._arrived, self._waiting, self._task = loop, asyncio.Event(), deque(), None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._serve(), name="batching-scorer")

    async def _serve(self) -> None:
        while True:
            if not self._waiting:
                self._arrived.clear()
                await self._arrived.wait()
                await self._wait_for_company()
            batch = self._take()
            if batch:
                await self._score(batch)

    async def _wait_for_company(self) -> None:
        """Up to ``window_s`` for more requests, unless a full batch is already waiting."""
        deadline = time.monotonic() + self.window_s
        while self._tweets_waiting() < self.max_tweets:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def _tweets_waiting(self) -> int:
        return sum(len(r.texts) for r in self._waiting if not r.answer.done())

    def _take(self) -> list[_Request]:
        """The oldest waiting requests for one model version, up to ``max_tweets`` (at least one request)."""
        batch: list[_Request] = []
        tweets = 0
        while self._waiting:
            head = self._waiting[0]
            if head.answer.done():  # cancelled while waiting
                self._waiting.popleft()
                continue
            if batch and (head.scorer is not batch[0].scorer or tweets + len(head.texts) > self.max_tweets):
                break
            batch.append(self._waiting.popleft())
            tweets += len(head.texts)
        return batch

    async def _score(self, batch: list[_Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        keywords = [k for r in batch for k in r.keywords]
        scorer = batch[0].scorer
        try:
            predictions = await anyio.to_thread.run_sync(lambda: scorer.predict(texts, keywords), limiter=self.limiter)
        except BaseException as exc:  # the model call failed, or the loop is stopping: every request's answer
            error = exc if isinstance(exc, Exception) else RuntimeError("the scoring API is shutting down")
            for request in batch:
                if not request.answer.done():
                    request.answer.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        if self.on_batch is not None:
            self.on_batch(len(batch), len(texts))
        start = 0
        for request in batch:
            end = start + len(request.texts)
            if not request.answer.done():
                request.answer.set_result(predictions[start:end])
            start = end

    def _fail_waiting(self, error: Exception) -> None:
        while self._waiting:
            request = self._waiting.popleft()
            if not request.answer.done():
                request.answer.set_exception(error)
