"""Overlapping batches in one worker: batch N+1 is scored while batch N is stored and published.

Scoring runs in threads (ONNX Runtime releases the GIL) and storing/publishing on the event loop, so the two can run
at the same time — but only if the worker does not wait for one before starting the other. :class:`BatchPipeline`
keeps at most one delivery in flight beside the scoring of the next batch:

    push(N+1): parse + score N+1 ──────────────┐   (delivery of N runs meanwhile)
               wait until N is delivered ──────┤
               start delivering N+1 ───────────┘   return (the caller fetches N+2)

Deliveries run one after another, in arrival order, and each batch is acknowledged (``acknowledge``) only after its
own delivery returned — so acknowledgements happen strictly in order, and an offset can only be committed once
every earlier message of its partition is stored and published. A delivery that fails is a failure of the process
or a dependency (the service's contract): the next :meth:`push` or :meth:`drain` raises it, and the caller must stop
without acknowledging anything further, so the group re-delivers from the last committed offset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.stream.scoring import BatchOutcome, ScoredTweets, ScoringService

Token = TypeVar("Token")  # whatever the caller needs to acknowledge a batch (Faust events, offsets in tests)


class BatchPipeline(Generic[Token]):
    def __init__(
        self,
        service: ScoringService,
        *,
        acknowledge: Callable[[Token], Awaitable[None]],
        on_outcome: Callable[[BatchOutcome], None] = lambda outcome: None,
    ) -> None:
        self._service = service
        self._acknowledge = acknowledge
        self._on_outcome = on_outcome
        self._delivering: asyncio.Task[None] | None = None

    async def push(self, messages: Sequence[InboundMessage], token: Token) -> None:
        """Score ``messages`` now; deliver them once every earlier batch is delivered, then acknowledge ``token``.

        Returns when the delivery of this batch has *started*; raises what an earlier delivery raised.
        """
        scored = await self._service.score(self._service.parse(messages))
        await self.drain()
        self._delivering = asyncio.create_task(self._deliver(scored, token), name="deliver-batch")

    async def drain(self) -> None:
        """Wait for the delivery in flight, if any; raises what it raised."""
        delivering, self._delivering = self._delivering, None
        if delivering is not None:
            await delivering

    @property
    def in_flight(self) -> bool:
        return self._delivering is not None and not self._delivering.done()

    async def _deliver(self, scored: ScoredTweets, token: Token) -> None:
        outcome = await self._service.deliver(scored)
        await self._acknowledge(token)
        self._on_outcome(outcome)
