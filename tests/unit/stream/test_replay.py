"""Replaying dead letters with fakes: what is sent, what is skipped, and that a second replay changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import MessageSizeTooLargeError

from tests.helpers import prediction
from tests.twins.stores import PredictionStoreTwin
from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.broker.sending import OutboundMessage
from tweet_triage.broker.topic_reader import TopicRecord
from tweet_triage.clock import parse_since
from tweet_triage.contracts.dead_letters import REPLAY_OF_HEADER, REPLAY_RUN_HEADER, DeadLetter, LetterHeader
from tweet_triage.contracts.tweets import Rejection, RejectReason, TweetEvent, parse_event
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import RetryPolicy
from tweet_triage.stream.replay import (
    LetterEntry,
    LetterFilter,
    Listing,
    ReplayReport,
    ReplayTarget,
    already_stored,
    parse_letter_id,
    replay_letters,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TARGET = ReplayTarget(source_topic="tweets", target_topic="tweets", dlq_topic="dlq", run_id="0123456789abcdef")


def tweet_value(tweet_id: str, text: str = "flood water rising") -> bytes:
    return json.dumps({"id": tweet_id, "text": text}).encode()


def entry(
    offset: int, value: bytes, reason: RejectReason = RejectReason.STORE_REJECTED, **changes: object
) -> LetterEntry:
    message = InboundMessage("tweets", 0, 100 + offset, b"key", value, T0.timestamp(), (("trace", b"t-1"),))
    letter = DeadLetter.for_message(message, Rejection(reason, "refused by the results store (404)"), now=T0)
    return LetterEntry(f"0:{offset}", letter.model_copy(update=changes))


class Broker:
    def __init__(self, refuse: set[bytes] | None = None) -> None:
        self.sent: dict[str, list[OutboundMessage]] = {}
        self._refuse = refuse or set()

    async def send_many(self, topic: str, messages: Sequence[OutboundMessage]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for message in messages:
            if message.key in self._refuse:
                outcomes.append(MessageSizeTooLargeError())
            else:
                self.sent.setdefault(topic, []).append(message)
                outcomes.append(None)
        return outcomes


async def _iterate(entries: list[LetterEntry]) -> AsyncIterator[LetterEntry]:
    for item in entries:
        yield item


def run(
    entries: list[LetterEntry],
    broker: Broker,
    store: PredictionStoreTwin,
    *,
    superseded: set[str] | None = None,
    **options: object,
) -> ReplayReport:
    """Replay ``entries``; a replayed tweet counts as stored when the test put its prediction in ``store``."""

    async def lookup(ids: Sequence[str]) -> dict[str, PredictionRecord]:
        return store.find(ids)

    return asyncio.run(
        replay_letters(
            _iterate(entries),
            target=TARGET,
            superseded=superseded or set(),
            sender=broker,
            lookup=lookup,
            policy=RetryPolicy(max_attempts=2),
            now=T0 + timedelta(hours=1),
            **options,  # type: ignore[arg-type]
        )
    )


def test_valid_tweets_are_sent_keyed_by_their_id_with_their_bytes_and_replay_headers() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    report = run([entry(1, tweet_value("a")), entry(2, tweet_value("b"))], broker, store)
    assert (report.considered, report.sent, report.already_stored) == (2, 2, 0)
    first, second = broker.sent["tweets"]
    assert (first.key, first.value) == (b"a", tweet_value("a"))  # re-keyed by the tweet id, value untouched
    assert first.headers == (("trace", b"t-1"), (REPLAY_OF_HEADER, b"0:1"), (REPLAY_RUN_HEADER, b"0123456789abcdef"))
    assert second.key == b"b"


def test_a_second_replay_after_the_tweets_are_stored_sends_nothing() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    letters = [entry(i, tweet_value(f"t{i}")) for i in range(5)]
    assert run(letters, broker, store).sent == 5
    for i in range(5):
        store.put([prediction(f"t{i}", scored_at=T0 + timedelta(minutes=5))])  # what the worker did with them
    again = run(letters, broker, store)
    assert (again.sent, again.already_stored) == (0, 5)
    assert len(broker.sent["tweets"]) == 5


def test_an_older_prediction_of_other_text_is_replaced_a_newer_one_never() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    store.put(
        [
            prediction("old", text="an earlier version", scored_at=T0 - timedelta(hours=1)),
            prediction("new", text="a later version", scored_at=T0 + timedelta(hours=1)),
        ]
    )
    report = run([entry(1, tweet_value("old")), entry(2, tweet_value("new"))], broker, store)
    assert [m.key for m in broker.sent["tweets"]] == [b"old"]
    assert (report.sent, report.already_stored) == (1, 1)


def test_force_sends_stored_and_superseded_letters_too() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    store.put([prediction("a", scored_at=T0)])
    report = run(
        [entry(1, tweet_value("a")), entry(2, tweet_value("b"))], broker, store, superseded={"0:2"}, force=True
    )
    assert report.sent == 2


def test_superseded_cut_and_foreign_letters_are_skipped_and_counted() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    letters = [
        entry(1, tweet_value("a")),
        entry(2, tweet_value("b"), raw_truncated=True),
        entry(3, tweet_value("c"), topic="tweets-feedback"),
    ]
    report = run(letters, broker, store, superseded={"0:1"})
    assert (report.sent, report.superseded, report.truncated, dict(report.other_topic)) == (
        0,
        1,
        1,
        {"tweets-feedback": 1},
    )
    assert report.skipped == 3 and "tweets" not in broker.sent


def test_letters_the_contract_still_refuses_are_not_sent_and_a_changed_verdict_is_recorded() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    same = entry(1, b"not json", RejectReason.NOT_JSON)
    changed = entry(2, b'{"id": "x", "text": "\\u200b"}', RejectReason.INVALID_EVENT)  # blank by today's rules
    report = run([same, changed], broker, store)
    assert "tweets" not in broker.sent
    assert dict(report.refused_again) == {"not_json": 1, "blank_text": 1} and report.recorded == 1
    [recorded] = broker.sent["dlq"]
    letter = DeadLetter.from_json(recorded.value)
    assert (letter.reason, letter.replay_of, letter.replay_run) == ("blank_text", "0:2", TARGET.run_id)
    assert (letter.offset, letter.raw) == (changed.letter.offset, changed.letter.raw)  # about the original message
    assert [(r.letter_id, r.was, r.now) for r in report.refusals] == [
        ("0:1", "not_json", "not_json"),
        ("0:2", "invalid_event", "blank_text"),
    ]


def test_a_dry_run_sends_and_records_nothing() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    report = run([entry(1, tweet_value("a")), entry(2, b"[]", RejectReason.NOT_JSON)], broker, store, dry_run=True)
    assert broker.sent == {} and report.sent == 1 and sum(report.refused_again.values()) == 1


def test_limit_counts_letters_considered() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    report = run([entry(i, tweet_value(f"t{i}")) for i in range(10)], broker, store, limit=3)
    assert report.considered == 3 and report.sent == 3


def test_a_message_the_broker_refuses_is_reported_not_fatal() -> None:
    broker, store = Broker(refuse={b"b"}), PredictionStoreTwin()
    report = run([entry(1, tweet_value("a")), entry(2, tweet_value("b"))], broker, store)
    assert report.sent == 1 and report.refused_again == {"broker_refused": 1}


def test_headers_cut_in_the_letter_are_not_replayed_half() -> None:
    broker, store = Broker(), PredictionStoreTwin()
    header = LetterHeader(name="x", value_base64="", value_size=9000, truncated=True)
    run([entry(1, tweet_value("a"), headers=[header], headers_truncated=True)], broker, store)
    [sent] = broker.sent["tweets"]
    assert [name for name, _ in sent.headers] == [REPLAY_OF_HEADER, REPLAY_RUN_HEADER]


def test_a_prediction_of_other_text_made_before_the_letter_does_not_count_as_stored() -> None:
    letter = entry(1, tweet_value("a")).letter
    tweet = parse_event(letter.raw)
    assert isinstance(tweet, TweetEvent)
    assert not already_stored(letter, tweet, prediction("a", text="other text", scored_at=T0 - timedelta(seconds=1)))
    assert not already_stored(letter, tweet, None)
    assert already_stored(letter, tweet, prediction("a", text="other text", scored_at=T0))


def test_listing_counts_all_matches_and_knows_which_letters_were_superseded() -> None:
    records = [
        TopicRecord("dlq", 0, 0, None, entry(0, b"x", RejectReason.NOT_JSON).letter.to_json(), None),
        TopicRecord("dlq", 0, 1, None, b"garbage", None),
        TopicRecord("dlq", 0, 2, None, entry(2, tweet_value("a")).letter.to_json(), None),
        TopicRecord("dlq", 0, 3, None, entry(3, tweet_value("a"), replay_of="0:2").letter.to_json(), None),
    ]
    listing = Listing(LetterFilter(frozenset({"store_rejected"})), limit=1)
    for record in records:
        listing.add(record)
    assert [e.id for e in listing.shown] == ["0:2"] and listing.matched == 2
    assert listing.superseded == {"0:2": "0:3"} and listing.unreadable == 1
    assert dict(listing.by_reason) == {"store_rejected": 2}


def test_filters_by_time_and_topic() -> None:
    letter = entry(1, b"x").letter
    assert LetterFilter(since=T0).matches(letter) and not LetterFilter(since=T0 + timedelta(seconds=1)).matches(letter)
    assert not LetterFilter(source_topic="tweets-feedback").matches(letter)


@pytest.mark.parametrize(("text", "expected"), [("0:17", (0, 17)), (" 3:0 ", (3, 0)), ("17", None), ("a:b", None)])
def test_letter_ids(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_letter_id(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", T0 - timedelta(minutes=30)),
        ("2h", T0 - timedelta(hours=2)),
        ("7d", T0 - timedelta(days=7)),
        ("1w", T0 - timedelta(weeks=1)),
        ("2026-11-26T11:00:00Z", T0 - timedelta(hours=1)),
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
    ],
)
def test_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=T0) == expected


@pytest.mark.parametrize("text", ["yesterday", "-5m", "10y", ""])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_since(text, now=T0)
