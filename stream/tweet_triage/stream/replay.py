"""Dead letters read back and replayed: the domain of ``triage dlq list | show | replay``.

A letter's id is its place in the dead-letter topic, ``PARTITION:OFFSET`` (as :attr:`TopicRecord.position`).

Replaying a letter, once its cause is fixed, follows these rules (:func:`replay_letters`):

* Only letters from the tweets topic (the scoring worker's) are replayed; letters the monitor wrote about other
  topics are counted, not sent.
* A letter superseded by a later one (a replay of it was refused again: the later letter's ``replay_of``) is
  skipped — the later letter carries the current verdict. A letter whose value was cut (too large to keep whole)
  cannot be replayed.
* The value is first checked against the current contract (:func:`~tweet_triage.contracts.tweets.parse_event`, the
  worker's own check). One that would be refused again is not sent; if the verdict differs from the letter's reason, a
  new letter records it (it supersedes the old one), so letters refused again carry the new reason.
* A valid tweet whose prediction is already stored — with the same text, or scored after the letter was written —
  is not sent again (unless forced): a second replay changes nothing.
* The rest is sent to the target topic keyed by the tweet id, with the original value bytes and headers plus
  ``triage-replay-of`` (the letter's id) and ``triage-replay-run``. The worker scores and upserts it (the same tweet
  id upserts the same item); if it refuses it again, its new letter names the letter it replayed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.broker.sending import OutboundMessage, Sender, send_all
from tweet_triage.broker.topic_reader import TopicRecord
from tweet_triage.contracts.dead_letters import LETTER_ID, REPLAY_OF_HEADER, REPLAY_RUN_HEADER, DeadLetter
from tweet_triage.contracts.tweets import Rejection, TweetEvent, parse_event
from tweet_triage.errors import InvalidMessage
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import RetryPolicy

log = logging.getLogger(__name__)

CHUNK: Final = 100
MAX_DETAILS: Final = 20
_OUR_HEADERS: Final = frozenset({REPLAY_OF_HEADER, REPLAY_RUN_HEADER})


@dataclass(frozen=True)
class LetterEntry:
    """One dead letter and its id (its place in the dead-letter topic)."""

    id: str
    letter: DeadLetter

    @classmethod
    def from_record(cls, record: TopicRecord) -> LetterEntry | None:
        """The letter a record holds, or None if it is not one (logged)."""
        try:
            return cls(record.position, DeadLetter.from_json(record.value))
        except InvalidMessage as exc:
            log.warning("record %s of the dead-letter topic is not a dead letter: %s", record.position, exc)
            return None


def parse_letter_id(text: str) -> tuple[int, int] | None:
    """``PARTITION:OFFSET`` as numbers, or None if ``text`` is not a letter id."""
    match = LETTER_ID.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class LetterFilter:
    """Which letters a command looks at: by reason (any of them), by time written, by source topic."""

    reasons: frozenset[str] = frozenset()
    since: datetime | None = None
    source_topic: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (not self.reasons or str(letter.reason) in self.reasons)
            and (self.since is None or letter.dead_lettered_at >= self.since)
            and (self.source_topic is None or letter.topic == self.source_topic)
        )


@dataclass
class Listing:
    """What ``dlq list`` found, fed one record at a time: the first ``limit`` matching letters (oldest first) and
    counts over all of them."""

    letter_filter: LetterFilter
    limit: int
    shown: list[LetterEntry] = field(default_factory=list)
    matched: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    superseded: dict[str, str] = field(default_factory=dict)  # letter id -> the id of the letter that superseded it
    unreadable: int = 0

    def add(self, record: TopicRecord) -> LetterEntry | None:
        entry = LetterEntry.from_record(record)
        if entry is None:
            self.unreadable += 1
            return None
        if entry.letter.replay_of is not None:
            self.superseded[entry.letter.replay_of] = entry.id
        if not self.letter_filter.matches(entry.letter):
            return None
        self.matched += 1
        self.by_reason[str(entry.letter.reason)] += 1
        if len(self.shown) < self.limit:
            self.shown.append(entry)
        return entry


@dataclass(frozen=True)
class Refusal:
    letter_id: str
    was: str
    now: str
    message: str


@dataclass
class ReplayReport:
    considered: int = 0
    sent: int = 0
    already_stored: int = 0
    refused_again: Counter[str] = field(default_factory=Counter)  # by the current verdict's reason
    recorded: int = 0  # new letters written because the verdict changed
    superseded: int = 0
    truncated: int = 0
    other_topic: Counter[str] = field(default_factory=Counter)
    refusals: list[Refusal] = field(default_factory=list)  # the first few, for the report

    @property
    def skipped(self) -> int:
        return self.already_stored + self.superseded + self.truncated + sum(self.other_topic.values())


StoredLookup = Callable[[Sequence[str]], Awaitable[dict[str, PredictionRecord]]]


class ReplayProgress(Protocol):
    def __call__(self, done: int, report: ReplayReport) -> None: ...


def already_stored(letter: DeadLetter, tweet: TweetEvent, stored: PredictionRecord | None) -> bool:
    """True if replaying would change nothing: the prediction exists for this very text, or was made after the
    letter was written (then it is of a newer delivery, which an old letter must not overwrite)."""
    return stored is not None and (stored.text == tweet.text or stored.scored_at >= letter.dead_lettered_at)


@dataclass(frozen=True)
class ReplayTarget:
    source_topic: str  # letters about this topic are replayed (the tweets topic)
    target_topic: str  # where they are sent (the tweets topic, or another one named)
    dlq_topic: str  # where new verdicts are recorded
    run_id: str


async def replay_letters(
    entries: AsyncIterable[LetterEntry],
    *,
    target: ReplayTarget,
    superseded: set[str],
    sender: Sender[OutboundMessage],
    lookup: StoredLookup,
    policy: RetryPolicy,
    now: datetime,
    limit: int | None = None,
    force: bool = False,
    dry_run: bool = False,
    on_progress: ReplayProgress | None = None,
) -> ReplayReport:
    """Replay the letters of ``entries`` by the rules of the module docstring; return what became of them."""
    report = ReplayReport()
    chunk: list[tuple[LetterEntry, TweetEvent]] = []
    async for entry in entries:
        if limit is not None and report.considered >= limit:
            break
        report.considered += 1
        tweet = _replayable(entry, target, superseded, force, report)
        if isinstance(tweet, Rejection):
            await _record_refusal(entry, tweet, target, sender, policy, now, dry_run, report)
        elif tweet is not None:
            chunk.append((entry, tweet))
        if len(chunk) >= CHUNK:
            await _send_chunk(chunk, target, sender, lookup, policy, force, dry_run, report)
            chunk = []
        if on_progress is not None:
            on_progress(report.considered, report)
    if chunk:
        await _send_chunk(chunk, target, sender, lookup, policy, force, dry_run, report)
    if on_progress is not None:
        on_progress(report.considered, report)
    return report


def _replayable(
    entry: LetterEntry, target: ReplayTarget, superseded: set[str], force: bool, report: ReplayReport
) -> TweetEvent | Rejection | None:
    """The tweet to send, the current verdict refusing it, or None if the letter is skipped (counted)."""
    letter = entry.letter
    if letter.topic != target.source_topic:
        report.other_topic[letter.topic] += 1
        return None
    if entry.id in superseded and not force:
        report.superseded += 1
        return None
    if not letter.complete:
        report.truncated += 1
        return None
    return parse_event(letter.raw)


async def _record_refusal(
    entry: LetterEntry,
    verdict: Rejection,
    target: ReplayTarget,
    sender: Sender[OutboundMessage],
    policy: RetryPolicy,
    now: datetime,
    dry_run: bool,
    report: ReplayReport,
) -> None:
    letter = entry.letter
    report.refused_again[str(verdict.reason)] += 1
    if len(report.refusals) < MAX_DETAILS:
        report.refusals.append(Refusal(entry.id, str(letter.reason), str(verdict.reason), verdict.message))
    if verdict.reason == letter.reason or dry_run:
        return  # the letter already says so
    source = InboundMessage(
        letter.topic,
        letter.partition,
        letter.offset,
        letter.key,
        letter.raw,
        None if letter.source_timestamp_ms is None else letter.source_timestamp_ms / 1000,
        _original_headers(letter) + _replay_headers(entry, target),
    )
    update = DeadLetter.for_message(source, verdict, now=now)
    key, value = update.to_message()
    refused = await send_all(sender, target.dlq_topic, [OutboundMessage(key, value)], policy=policy)
    if refused:
        log.error("could not record the new verdict on letter %s: %s", entry.id, refused[0])
        return
    report.recorded += 1


async def _send_chunk(
    chunk: list[tuple[LetterEntry, TweetEvent]],
    target: ReplayTarget,
    sender: Sender[OutboundMessage],
    lookup: StoredLookup,
    policy: RetryPolicy,
    force: bool,
    dry_run: bool,
    report: ReplayReport,
) -> None:
    stored = {} if force else await lookup(sorted({tweet.id for _, tweet in chunk}))
    due = [(e, t) for e, t in chunk if force or not already_stored(e.letter, t, stored.get(t.id))]
    report.already_stored += len(chunk) - len(due)
    messages = [
        OutboundMessage(tweet.key, entry.letter.raw, _original_headers(entry.letter) + _replay_headers(entry, target))
        for entry, tweet in due
    ]
    if dry_run or not messages:
        report.sent += len(messages)  # a dry run counts what it would send
        return
    refused = await send_all(sender, target.target_topic, messages, policy=policy)
    for index, error in refused.items():
        entry = due[index][0]
        report.refused_again["broker_refused"] += 1
        if len(report.refusals) < MAX_DETAILS:
            report.refusals.append(Refusal(entry.id, str(entry.letter.reason), "broker_refused", str(error)))
    report.sent += len(messages) - len(refused)


def _original_headers(letter: DeadLetter) -> tuple[tuple[str, bytes], ...]:
    """The refused message's headers, when they were kept whole (never our own replay headers)."""
    if letter.headers_truncated:
        return ()
    return tuple((h.name, h.value) for h in letter.headers if h.name not in _OUR_HEADERS)


def _replay_headers(entry: LetterEntry, target: ReplayTarget) -> tuple[tuple[str, bytes], ...]:
    return ((REPLAY_OF_HEADER, entry.id.encode()), (REPLAY_RUN_HEADER, target.run_id.encode()))
