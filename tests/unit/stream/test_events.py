"""The tweet event contract: what parse_event accepts, what it refuses and why, and that it never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import hostile_corpus
from tests.hostile_corpus import Hostile
from tweet_triage.contracts.tweets import (
    MAX_DEPTH,
    MAX_FIELD_CHARS,
    MAX_TEXT_CHARS,
    Rejection,
    RejectReason,
    TweetEvent,
    check_key,
    has_visible_character,
    parse_event,
)


def as_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def accepted(raw: bytes) -> TweetEvent:
    result = parse_event(raw)
    assert isinstance(result, TweetEvent), result
    return result


def test_minimal_event() -> None:
    event = accepted(b'{"id": "42", "text": "Forest fire near La Ronge"}')
    assert (event.id, event.text, event.created_at, event.extra) == ("42", "Forest fire near La Ronge", None, {})
    assert event.key == b"42"


def test_every_contract_field_and_unknown_fields_are_kept() -> None:
    event = accepted(
        as_bytes(
            {
                "id": "1",
                "text": "flood",
                "created_at": "2024-05-01T12:00:00+02:00",
                "lang": "en",
                "user": "ana",
                "location": "Porto Alegre",
                "keyword": "flood",
                "source": "collector-3",
                "event": "rs-floods-2024",
                "published_at": "2024-05-01T10:00:01Z",
                "retweets": 3,
                "geo": {"lat": -30.0, "lon": -51.2},
            }
        )
    )
    assert event.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert event.published_at == datetime(2024, 5, 1, 10, 0, 1, tzinfo=UTC)
    assert (event.lang, event.user, event.location, event.keyword, event.source, event.event) == (
        "en",
        "ana",
        "Porto Alegre",
        "flood",
        "collector-3",
        "rs-floods-2024",
    )
    assert event.extra == {"retweets": 3, "geo": {"lat": -30.0, "lon": -51.2}}
    assert json.loads(event.to_json())["geo"] == {"lat": -30.0, "lon": -51.2}


def test_optional_fields_of_the_wrong_type_are_kept_aside_not_fatal() -> None:
    event = accepted(
        as_bytes({"id": "1", "text": "fire", "user": {"screen_name": "bo"}, "published_at": 17, "lang": 5})
    )
    assert event.user is None and event.lang is None and event.published_at is None
    assert event.extra == {"user": {"screen_name": "bo"}, "published_at": 17, "lang": 5}
    assert parse_event(event.to_json()) == event


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.250-03:00", datetime(2024, 5, 1, 15, 0, 0, 250_000, tzinfo=UTC)),
        ("2024-05-01 12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # naive: taken as UTC
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (None, None),
    ],
)
def test_created_at_forms(created_at: str | None, expected: datetime | None) -> None:
    assert accepted(as_bytes({"id": "1", "text": "t", "created_at": created_at})).created_at == expected


def test_a_leading_byte_order_mark_is_tolerated() -> None:
    assert accepted(b"\xef\xbb\xbf" + as_bytes({"id": "1", "text": "t"})).id == "1"


def test_text_at_the_limit_is_accepted() -> None:
    assert len(accepted(as_bytes({"id": "1", "text": "a" * MAX_TEXT_CHARS})).text) == MAX_TEXT_CHARS


BAD = hostile_corpus.bad()
BAD_VALUES = [h for h in BAD if h.expect != RejectReason.KEY_MISMATCH]
BAD_KEYS = [h for h in BAD if h.expect == RejectReason.KEY_MISMATCH]
TOLERATED = hostile_corpus.tolerated()


@pytest.mark.parametrize("hostile", BAD_VALUES, ids=[h.kind for h in BAD_VALUES])
def test_every_hostile_value_is_refused_with_its_reason(hostile: Hostile) -> None:
    result = parse_event(hostile.value)
    assert isinstance(result, Rejection), hostile.kind
    assert result.reason == hostile.expect
    assert result.message  # something a person can read
    assert len(result.message) < 400


@pytest.mark.parametrize("hostile", BAD_KEYS, ids=[h.kind for h in BAD_KEYS])
def test_a_key_that_is_not_the_tweet_id_is_refused_with_both_shown(hostile: Hostile) -> None:
    tweet = accepted(hostile.value or b"")
    problem = check_key(hostile.key, tweet.id)
    assert problem is not None and tweet.id in problem and len(problem) < 400


def test_the_tweet_id_as_key_or_no_key_is_accepted() -> None:
    assert check_key(b"t-1", "t-1") is None and check_key(None, "t-1") is None
    assert check_key("odd-é-火".encode(), "odd-é-火") is None


@pytest.mark.parametrize("hostile", TOLERATED, ids=[h.kind for h in TOLERATED])
def test_odd_but_valid_values_are_accepted(hostile: Hostile) -> None:
    assert accepted(hostile.value or b"").id == hostile.tweet_id


def test_the_corpus_holds_at_least_thirty_kinds_of_bad_messages_over_many_reasons() -> None:
    assert len({h.kind for h in BAD}) >= 30
    assert len({h.expect for h in BAD}) >= 15


def test_an_optional_field_that_cannot_be_used_is_set_aside_and_the_tweet_kept() -> None:
    long_user = "u" * (MAX_FIELD_CHARS + 1)
    raw = {"id": "1", "text": "t", "user": long_user, "created_at": "yesterday-ish", "lang": "en", "notes": "n"}
    tweet = accepted(as_bytes(raw))
    assert (tweet.user, tweet.created_at, tweet.lang) == (None, None, "en")
    assert sorted(tweet.set_aside) == ["created_at", "user"]
    assert json.loads(tweet.to_json()) == raw  # nothing is lost on the wire


def test_unknown_fields_of_any_size_are_kept() -> None:
    kept = accepted(as_bytes({"id": "1", "text": "t", "notes": "n" * 20_000}))
    assert kept.extra["notes"] == "n" * 20_000 and kept.set_aside == []


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Wed Oct 10 20:19:24 +0000 2018", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),  # Twitter API v1.1
        ("Wed Oct 10 20:19:24 -0530 2018", datetime(2018, 10, 11, 1, 49, 24, tzinfo=UTC)),
        ("2018-10-10T20:19:24.000Z", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),  # Twitter API v2
        ("2018-10-10T22:19:24+02:00", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),
    ],
)
def test_created_at_is_read_in_the_formats_of_twitters_apis(written: str, expected: datetime) -> None:
    assert accepted(as_bytes({"id": "1", "text": "t", "created_at": written})).created_at == expected


@pytest.mark.parametrize("written", ["Wed Feb 30 20:19:24 +0000 2018", "Wed Oct 10 20:19:24 +2500 2018", "Oct 10"])
def test_a_created_at_that_is_no_time_is_set_aside(written: str) -> None:
    tweet = accepted(as_bytes({"id": "1", "text": "t", "created_at": written}))
    assert tweet.created_at is None and tweet.extra["created_at"] == written


def test_nesting_is_allowed_up_to_the_limit() -> None:
    value: Any = 1
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    assert accepted(as_bytes({"id": "1", "text": "t", "deep": value})).extra["deep"] == value
    refused = parse_event(as_bytes({"id": "1", "text": "t", "deep": [value]}))
    assert isinstance(refused, Rejection) and refused.reason is RejectReason.TOO_DEEPLY_NESTED


def test_a_contract_field_cannot_be_smuggled_in_through_extra() -> None:
    with pytest.raises(ValueError, match="overwrite"):
        TweetEvent(id="1", text="t", lang="en", extra={"lang": "pt"})


# ---- fuzzing ------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
field_values = st.one_of(json_values, st.text(max_size=40), st.sampled_from(["", " ", "a/b", "2024-05-01T00:00:00Z"]))
event_like = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ("id", "text", "created_at", "published_at", "lang", "user", "location", "keyword", "extra"), field_values
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_event_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    assert isinstance(parse_event(raw), TweetEvent | Rejection)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, event_like))
def test_parse_event_never_raises_on_arbitrary_json(value: Any) -> None:
    result = parse_event(json.dumps(value).encode("utf-8"))
    assert isinstance(result, TweetEvent | Rejection)
    if isinstance(result, TweetEvent):
        assert parse_event(result.to_json()) == result  # what we accept, we can write back identically


valid_text = st.text(min_size=1, max_size=MAX_TEXT_CHARS).filter(has_visible_character)
valid_id = st.from_regex(r"\A[0-9A-Za-z_.:-]{1,40}\Z")


@settings(max_examples=200, deadline=None)
@given(
    tweet_id=valid_id,
    text=valid_text,
    created_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    keyword=st.none() | st.text(max_size=20),
)
def test_valid_events_round_trip(tweet_id: str, text: str, created_at: datetime | None, keyword: str | None) -> None:
    event = TweetEvent(id=tweet_id, text=text, created_at=created_at, keyword=keyword)
    assert parse_event(event.to_json()) == event
