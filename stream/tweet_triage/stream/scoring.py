"""Scoring one micro-batch of raw stream messages: the worker's domain logic, free of Faust.

Every per-batch decision lives here or in the modules it calls (the store writer and retry rules, the broker sending
rules), so the Faust edge only hands messages over and acknowledges them. A batch goes through three stages, each a
method, so a caller may overlap them across batches:

1. :meth:`ScoringService.parse` — every message against the tweet contract (never raises, whatever the value, key,
   headers or timestamp hold); refused ones become dead letters with their reason, and so does a message whose key
   is not its tweet id. Copies of one tweet in a batch are scored once: the copy with the latest ``created_at``
   wins (the later delivery on a tie or without one); the others are counted as duplicates.
2. :meth:`ScoringService.score` — the valid tweets with *one* predictor (the production model at the start of the
   batch). If the model fails on the batch, it is scored again in halves until the tweets it fails on are isolated;
   each is dead-lettered (``scoring_failed``). If it fails on *every* tweet, a known-good canary decides: the model
   scores it → the tweets are at fault; it does not → the model is broken, :class:`ModelFailure` is raised.
   A tweet whose scores cannot be stored (NaN, out of range) is dead-lettered the same way.
3. :meth:`ScoringService.deliver` — upsert the prediction records (idempotent, id = tweet id), then publish the scored
   events and all dead letters, each acknowledged by the broker. Store-wide failures (unreachable, 401/403, 404, 429,
   5xx) are retried inside the writer — the stream pauses, nothing is dead-lettered for them; items the store refuses
   for themselves are dead-lettered (``store_rejected``). A broker that is away is retried the same way; a scored
   event it refuses for itself is dead-lettered (``publish_refused``); a dead letter it refuses is sent again without
   the original bytes (reason, position, sizes and sha256 stay).

Only when :meth:`ScoringService.handle` returns may the caller acknowledge the batch's offsets: at-least-once. Whatever
it raises is a failure of the process or a dependency, never of the data: the caller must stop without acknowledging,
so the batch is re-delivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.broker.sending import send_all
from tweet_triage.clock import utc_now
from tweet_triage.contracts.dead_letters import DeadLetter
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.contracts.tweets import Rejection, RejectReason, TweetEvent, check_key, parse_event
from tweet_triage.errors import StoreRejected, TriageError
from tweet_triage.model.language import Language
from tweet_triage.model.places import Gazetteer, Place, gazetteer
from tweet_triage.model.predictor import Predictor, ScoredBatch
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import RetryPolicy, describe
from tweet_triage.stream.stories import story_id

log = logging.getLogger(__name__)

CANARY_TEXT: Final = "Forest fire near La Ronge Sask. Canada"  # a plain tweet any working model scores

Message = tuple[bytes | None, bytes]
Row = npt.NDArray[np.float32]


class RecordWriter(Protocol):
    async def write(self, records: Iterable[PredictionRecord]) -> object: ...


class Publisher(Protocol):
    async def send_many(self, topic: str, messages: Sequence[Message]) -> Sequence[BaseException | None]:
        """One outcome per message (None: acknowledged by the broker); never raises for one message."""


class ModelFailure(TriageError):
    """The model fails even on a known-good tweet: a failure of a dependency, not of the data."""


class DeadLetterRefused(TriageError):
    """The broker refused even a dead letter without its payload: it cannot take the stream's output."""


@dataclass(frozen=True)
class Topics:
    scored: str
    dlq: str


@dataclass(frozen=True)
class Accepted:
    """A message that passed the contract, and the tweet it holds."""

    message: InboundMessage
    tweet: TweetEvent


@dataclass
class ParsedBatch:
    received: int
    accepted: list[Accepted]
    letters: list[DeadLetter]
    duplicates: int = 0  # copies of an accepted tweet left out (received = accepted + letters + duplicates)
    set_aside: list[str] = field(default_factory=list)  # optional fields set aside, one name per tweet and field


@dataclass(frozen=True)
class Scored:
    accepted: Accepted
    record: PredictionRecord
    event: ScoredEvent


@dataclass
class ScoredTweets:
    received: int
    scored: list[Scored]
    letters: list[DeadLetter]
    model_version: str | None
    scoring_seconds: float
    duplicates: int = 0
    set_aside: list[str] = field(default_factory=list)


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
    duplicates: int = 0
    set_aside: list[str] = field(default_factory=list)


class ScoringService:
    def __init__(
        self,
        *,
        model_name: str,
        predictor: Callable[[], Predictor],
        writer: RecordWriter,
        publisher: Publisher,
        topics: Topics,
        broker_policy: RetryPolicy | None = None,
        run_blocking: Callable[[Callable[[], ScoredBatch]], Awaitable[ScoredBatch]] | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        places: Callable[[], Gazetteer] = gazetteer,
    ) -> None:
        self._model_name = model_name
        self._predictor = predictor
        self._writer = writer
        self._publisher = publisher
        self._topics = topics
        self._broker_policy = broker_policy or RetryPolicy.forever()
        self._run_blocking = run_blocking or _in_thread
        self._clock = clock
        self._sleep = sleep
        self._places = places

    async def handle(self, messages: Sequence[InboundMessage]) -> BatchOutcome:
        """All three stages for one batch; returns when its effects are durable (see the module docstring)."""
        return await self.deliver(await self.score(self.parse(messages)))

    # ---- 1. parse ---------------------------------------------------------------------------------------------

    def parse(self, messages: Sequence[InboundMessage]) -> ParsedBatch:
        """Check every message against the contract and its key against its tweet id; never raises. Copies of one
        tweet are kept once (see the module docstring)."""
        accepted: dict[str, Accepted] = {}
        letters: list[DeadLetter] = []
        duplicates = 0
        for message in messages:
            parsed = parse_event(message.value)
            if isinstance(parsed, Rejection):
                letters.append(self._letter(message, parsed))
                continue
            wrong_key = check_key(message.key, parsed.id)
            if wrong_key is not None:
                letters.append(self._letter(message, Rejection(RejectReason.KEY_MISMATCH, wrong_key), parsed.id))
                continue
            kept = accepted.get(parsed.id)
            if kept is not None:
                duplicates += 1
                if not _replaces(parsed, kept.tweet):
                    continue
                del accepted[parsed.id]  # the winning copy takes its own place in the batch
            accepted[parsed.id] = Accepted(message, parsed)
        set_aside = [name for item in accepted.values() for name in item.tweet.set_aside]
        return ParsedBatch(len(messages), list(accepted.values()), letters, duplicates, set_aside)

    # ---- 2. score ---------------------------------------------------------------------------------------------

    async def score(self, batch: ParsedBatch) -> ScoredTweets:
        """Score the accepted tweets with one model, isolating the tweets it fails on (see the module docstring)."""
        letters = list(batch.letters)
        if not batch.accepted:
            return ScoredTweets(batch.received, [], letters, None, 0.0, batch.duplicates, batch.set_aside)
        predictor = self._predictor()  # one model for the whole batch
        started = time.perf_counter()
        rows, failed = await self._score_isolated(predictor, batch.accepted)
        scoring_seconds = time.perf_counter() - started
        now = self._clock()
        scored: list[Scored] = []
        languages = predictor.languages([item.tweet.text for item in batch.accepted])
        places = self._places()
        for index, item in enumerate(batch.accepted):
            if index in failed:
                letters.append(self._refused(item, RejectReason.SCORING_FAILED, failed[index]))
                continue
            probabilities, embedding = rows[index]
            try:
                place = places.resolve(item.tweet.text, item.tweet.location)
                scored.append(self._result(item, predictor, probabilities, embedding, now, languages[index], place))
            except ValidationError as exc:
                why = f"the model's scores for this tweet cannot be stored: {exc.errors()[0]['msg']}"
                letters.append(self._refused(item, RejectReason.SCORING_FAILED, why))
        if failed:
            log.error("the model failed on %d tweet(s) of %d; dead-lettered them", len(failed), len(batch.accepted))
        return ScoredTweets(
            batch.received, scored, letters, predictor.version, scoring_seconds, batch.duplicates, batch.set_aside
        )

    async def _score_isolated(
        self, predictor: Predictor, items: list[Accepted]
    ) -> tuple[dict[int, tuple[Row, Row]], dict[int, str]]:
        """Rows by item index, and why the model failed for the items it could not score even alone."""
        rows: dict[int, tuple[Row, Row]] = {}
        failed: dict[int, str] = {}

        async def attempt(indices: list[int]) -> None:
            try:
                result = await self._run_model(predictor, [items[i].tweet for i in indices])
            except Exception as exc:
                if len(indices) == 1:
                    failed[indices[0]] = f"the model failed on this tweet: {describe(exc)}"
                    return
                middle = len(indices) // 2
                await attempt(indices[:middle])
                await attempt(indices[middle:])
                return
            for row, index in enumerate(indices):
                rows[index] = (result.probabilities[row], result.embeddings[row])

        await attempt(list(range(len(items))))
        if failed and not rows:
            await self._check_canary(predictor, len(items))
        return rows, failed

    async def _run_model(self, predictor: Predictor, tweets: list[TweetEvent]) -> ScoredBatch:
        result = await self._run_blocking(
            lambda: predictor.score([t.text for t in tweets], [t.keyword for t in tweets])
        )
        if len(result.probabilities) != len(tweets) or len(result.embeddings) != len(tweets):
            raise ValueError(f"the model returned {len(result.probabilities)} row(s) for {len(tweets)} tweet(s)")
        return result

    async def _check_canary(self, predictor: Predictor, count: int) -> None:
        """Every tweet failed, even alone: tell a broken model from a batch of hostile tweets."""
        try:
            await self._run_model(predictor, [TweetEvent(id="canary", text=CANARY_TEXT)])
        except Exception as exc:
            raise ModelFailure(
                f"model v{predictor.version} fails on every tweet, even a known-good one ({describe(exc)}); "
                "stopping without acknowledging, the batch will be re-delivered"
            ) from exc
        log.error("the model failed on all %d tweet(s) of a batch but scores a known-good tweet", count)

    def _result(
        self,
        item: Accepted,
        predictor: Predictor,
        probabilities: Row,
        embedding: Row,
        now: datetime,
        language: Language,
        place: Place | None,
    ) -> Scored:
        tweet = item.tweet
        probs = {label: float(p) for label, p in zip(predictor.labels, probabilities, strict=True)}
        decision = predictor.decide(probabilities[np.newaxis, :])[0]  # the package's operating point
        record = PredictionRecord.from_scoring(
            tweet,
            label=decision.label,
            confidence=decision.confidence,
            probabilities=probs,
            model_name=self._model_name,
            model_version=predictor.version,
            scored_at=now,
            decision=decision,
            language=language,
            story_id=story_id(tweet.text),
            place=place,
        )
        return Scored(item, record, ScoredEvent.from_prediction(record, embedding))

    # ---- 3. deliver -------------------------------------------------------------------------------------------

    async def deliver(self, batch: ScoredTweets) -> BatchOutcome:
        """Store the records, publish the scored events and every dead letter; return when all are durable."""
        letters = list(batch.letters)
        scored = batch.scored
        write_seconds = 0.0
        if scored:
            started = time.perf_counter()
            refused = await self._write([s.record for s in scored])
            write_seconds = time.perf_counter() - started
            if refused:
                log.error("%d tweet(s) refused by the results store for themselves, dead-lettered", len(refused))
                letters += [
                    self._refused(s.accepted, RejectReason.STORE_REJECTED, refused[s.record.id])
                    for s in scored
                    if s.record.id in refused
                ]
                scored = [s for s in scored if s.record.id not in refused]
        stored_at = self._clock()
        if scored:
            unpublished = await send_all(
                self._publisher,
                self._topics.scored,
                [(s.event.key, s.event.to_json()) for s in scored],
                policy=self._broker_policy,
                sleep=self._sleep,
            )
            for index, error in unpublished.items():
                why = f"stored, but the broker refused its scored event: {describe(error)}"
                letters.append(self._refused(scored[index].accepted, RejectReason.PUBLISH_REFUSED, why))
        await self._send_letters(letters)
        latencies = [
            (stored_at - s.accepted.tweet.published_at).total_seconds()
            for s in scored
            if s.accepted.tweet.published_at is not None
        ]
        return BatchOutcome(
            received=batch.received,
            scored=len(scored),
            dead_lettered=len(letters),
            model_version=batch.model_version,
            scoring_seconds=batch.scoring_seconds,
            write_seconds=write_seconds,
            publish_to_stored_seconds=latencies,
            rejected_reasons=[x.reason for x in letters],
            duplicates=batch.duplicates,
            set_aside=batch.set_aside,
        )

    async def _write(self, records: list[PredictionRecord]) -> dict[str, str]:
        """Write the records; returns {tweet id: why} for items the store refused for themselves (all others are
        written). Store-wide failures never come back here: the writer retries them until the store answers."""
        try:
            await self._writer.write(records)
        except StoreRejected as exc:
            return {r.item_id: f"results store refused the item (status {r.status}): {r.message}" for r in exc.rejected}
        return {}

    async def _send_letters(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        log.warning("%d message(s) dead-lettered: %s", len(letters), sorted({str(x.reason) for x in letters}))
        refused = await send_all(
            self._publisher,
            self._topics.dlq,
            [x.to_message() for x in letters],
            policy=self._broker_policy,
            sleep=self._sleep,
        )
        if not refused:
            return
        stripped = [
            letters[i].stripped(f"the broker refused the full letter: {describe(e)}") for i, e in refused.items()
        ]
        still = await send_all(
            self._publisher,
            self._topics.dlq,
            [x.to_message() for x in stripped],
            policy=self._broker_policy,
            sleep=self._sleep,
        )
        if still:
            first = next(iter(still.values()))
            raise DeadLetterRefused(f"the broker refused even payload-free dead letters: {describe(first)}") from first
        log.error("%d dead letter(s) were too large for the broker; sent without their payload", len(stripped))

    def _letter(self, message: InboundMessage, rejection: Rejection, tweet_id: str | None = None) -> DeadLetter:
        return DeadLetter.for_message(message, rejection, tweet_id=tweet_id, now=self._clock())

    def _refused(self, item: Accepted, reason: RejectReason, why: str) -> DeadLetter:
        """The dead letter for a valid tweet a later step refused."""
        return self._letter(item.message, Rejection(reason, why), tweet_id=item.tweet.id)


def _replaces(copy: TweetEvent, kept: TweetEvent) -> bool:
    """Whether a later copy of a tweet in the batch replaces the one kept: the later event time wins; the later
    delivery when they tie or one has none."""
    if copy.created_at is not None and kept.created_at is not None:
        return copy.created_at >= kept.created_at
    return True


async def _in_thread(work: Callable[[], ScoredBatch]) -> ScoredBatch:
    """Run CPU-bound scoring off the event loop (ONNX Runtime releases the GIL), so heartbeats keep flowing."""
    return await asyncio.to_thread(work)
