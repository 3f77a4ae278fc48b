"""Scoring one micro-batch of raw stream messages: the worker's domain logic, free of Faust.

For each batch, in this order:

1. parse every message against the tweet contract; refused ones become dead letters (raw bytes, reason, source
   partition/offset) sent to ``tweets-dlq``;
2. score the valid tweets with *one* predictor (the production model at the start of the batch);
3. upsert the prediction records (idempotent, id = tweet id) — the writer retries until the store answers;
4. publish the scored events (with embeddings) to ``tweets-scored``.

Only when :meth:`ScoringService.handle` returns may the caller acknowledge the batch's offsets: at-least-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tweet_triage.model.predictor import Predictor, ScoredBatch
from tweet_triage.stream.dead_letters import DeadLetter
from tweet_triage.stream.events import Rejection, RejectReason, TweetEvent, parse_event
from tweet_triage.stream.exceptions import StoreRejected
from tweet_triage.stream.scored import ScoredEvent
from tweet_triage.stream.store.records import PredictionRecord
from tweet_triage.stream.timestamps import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    """One message as the broker delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: datetime | None = None


class RecordWriter(Protocol):
    async def write(self, records: Iterable[PredictionRecord]) -> object: ...


class Publisher(Protocol):
    async def send_many(self, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Return only once the broker has acknowledged every message."""


@dataclass(frozen=True)
class Topics:
    scored: str
    dlq: str


@dataclass
class BatchOutcome:
    received: int
    scored: int
    dead_lettered: int
    model_version: str | None
    scoring_seconds: float
    write_seconds: float
    publish_to_stored_seconds: list[float] = field(default_factory=list)
    rejected_reasons: list[RejectReason] = field(default_factory=list)


class ScoringService:
    def __init__(
        self,
        *,
        model_name: str,
        predictor: Callable[[], Predictor],
        writer: RecordWriter,
        publisher: Publisher,
        topics: Topics,
        run_blocking: Callable[[Callable[[], ScoredBatch]], Awaitable[ScoredBatch]] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._model_name = model_name
        self._predictor = predictor
        self._writer = writer
        self._publisher = publisher
        self._topics = topics
        self._run_blocking = run_blocking or _in_thread
        self._clock = clock

    async def handle(self, messages: Sequence[InboundMessage]) -> BatchOutcome:
        tweets: list[TweetEvent] = []
        letters: list[DeadLetter] = []
        for message in messages:
            parsed = parse_event(message.value or b"")
            if isinstance(parsed, Rejection):
                letters.append(self._dead_letter(message, parsed))
            else:
                tweets.append(parsed)
        tweets = _last_per_id(tweets)

        if letters:
            await self._publisher.send_many(self._topics.dlq, [(letter.key, letter.to_json()) for letter in letters])
            log.warning("%d message(s) dead-lettered: %s", len(letters), sorted({str(x.reason) for x in letters}))
        if not tweets:
            return BatchOutcome(
                len(messages), 0, len(letters), None, 0.0, 0.0, rejected_reasons=[x.reason for x in letters]
            )

        predictor = self._predictor()  # one model for the whole batch
        started = time.perf_counter()
        scored = await self._run_blocking(
            lambda: predictor.score([t.text for t in tweets], [t.keyword for t in tweets])
        )
        scoring_seconds = time.perf_counter() - started
        now = self._clock()
        records, events = self._results(tweets, predictor, scored, now)

        started = time.perf_counter()
        refused = await self._write(records)
        write_seconds = time.perf_counter() - started
        if refused:
            by_id = {m.key.decode("utf-8", "replace") if m.key else None: m for m in messages}
            letters += await self._dead_letter_refused(refused, tweets, by_id)
            events = [e for e in events if e.id not in refused]
            tweets = [t for t in tweets if t.id not in refused]
        stored_at = self._clock()
        await self._publisher.send_many(self._topics.scored, [(event.key, event.to_json()) for event in events])
        latencies = [(stored_at - t.published_at).total_seconds() for t in tweets if t.published_at is not None]
        return BatchOutcome(
            received=len(messages),
            scored=len(tweets),
            dead_lettered=len(letters),
            model_version=predictor.version,
            scoring_seconds=scoring_seconds,
            write_seconds=write_seconds,
            publish_to_stored_seconds=latencies,
            rejected_reasons=[x.reason for x in letters],
        )

    def _results(
        self, tweets: list[TweetEvent], predictor: Predictor, scored: ScoredBatch, now: datetime
    ) -> tuple[list[PredictionRecord], list[ScoredEvent]]:
        probabilities, embeddings = scored.probabilities, scored.embeddings
        labels = predictor.labels
        records: list[PredictionRecord] = []
        events: list[ScoredEvent] = []
        for row, tweet in enumerate(tweets):
            probs = {label: float(p) for label, p in zip(labels, probabilities[row], strict=True)}
            label = max(probs, key=lambda name: probs[name])
            record = PredictionRecord.from_scoring(
                tweet,
                label=label,
                confidence=probs[label],
                probabilities=probs,
                model_name=self._model_name,
                model_version=predictor.version,
                scored_at=now,
            )
            records.append(record)
            events.append(ScoredEvent.from_prediction(record, embeddings[row]))
        return records, events

    async def _write(self, records: list[PredictionRecord]) -> dict[str, str]:
        """Write the records; returns {tweet id: why} for items the store refused for good (all others are written)."""
        try:
            await self._writer.write(records)
        except StoreRejected as exc:
            return {r.item_id: f"results store refused the item (status {r.status}): {r.message}" for r in exc.rejected}
        return {}

    async def _dead_letter_refused(
        self, refused: dict[str, str], tweets: list[TweetEvent], by_key: dict[str | None, InboundMessage]
    ) -> list[DeadLetter]:
        letters = []
        for tweet in tweets:
            if tweet.id in refused:
                source = by_key.get(tweet.id) or InboundMessage("", 0, 0, tweet.id.encode(), tweet.to_json())
                letters.append(self._dead_letter(source, Rejection(RejectReason.STORE_REJECTED, refused[tweet.id])))
        await self._publisher.send_many(self._topics.dlq, [(x.key, x.to_json()) for x in letters])
        log.error("%d tweet(s) refused by the results store, dead-lettered", len(letters))
        return letters

    def _dead_letter(self, message: InboundMessage, rejection: Rejection) -> DeadLetter:
        return DeadLetter.build(
            raw=message.value,
            rejection=rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            source_timestamp=message.timestamp,
            now=self._clock(),
        )


def _last_per_id(tweets: list[TweetEvent]) -> list[TweetEvent]:
    """A re-delivered tweet may appear twice in one batch; keep the last (the upsert would keep it anyway)."""
    return list({t.id: t for t in tweets}.values())


async def _in_thread(work: Callable[[], ScoredBatch]) -> ScoredBatch:
    """Run CPU-bound scoring off the event loop (ONNX Runtime releases the GIL), so heartbeats keep flowing."""
    return await asyncio.to_thread(work)
