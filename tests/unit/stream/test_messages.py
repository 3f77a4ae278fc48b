"""Dead letters, scored events and feedback events: round trips and refusals."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.clock import format_utc
from tweet_triage.contracts.dead_letters import (
    MAX_HEADERS,
    MAX_KEY_BYTES,
    MAX_RAW_BYTES,
    REPLAY_OF_HEADER,
    REPLAY_RUN_HEADER,
    DeadLetter,
)
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.contracts.scored import ScoredEvent, encode_embedding
from tweet_triage.contracts.tweets import Rejection, RejectReason, parse_event
from tweet_triage.errors import InvalidMessage

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_a_dead_letter_carries_raw_bytes_reason_and_source_position() -> None:
    raw = b'{"id": "1", "text": "caf\xe9"}'
    rejection = parse_event(raw)
    assert isinstance(rejection, Rejection)
    letter = DeadLetter.build(
        raw=raw, rejection=rejection, topic="tweets", partition=1, offset=42, key=b"1", now=NOW, source_timestamp=NOW
    )
    back = DeadLetter.from_json(letter.to_json())
    assert back == letter
    assert back.raw == raw and back.key == b"1"
    assert (back.reason, back.topic, back.partition, back.offset) == (RejectReason.NOT_UTF8, "tweets", 1, 42)
    assert back.raw_size == len(raw) and not back.raw_truncated
    assert "raw_base64" not in letter.summary()


def test_a_huge_payload_is_cut_so_the_dead_letter_fits_in_one_message() -> None:
    raw = b"x" * (MAX_RAW_BYTES * 4)
    letter = DeadLetter.build(
        raw=raw, rejection=Rejection(RejectReason.PAYLOAD_TOO_LARGE, "big"), topic="t", partition=0, offset=0
    )
    assert letter.raw_truncated and letter.raw_size == len(raw)
    assert letter.raw == raw[:MAX_RAW_BYTES]
    assert len(letter.to_json()) < 2 * MAX_RAW_BYTES


def worst_case_message(**changes: object) -> InboundMessage:
    """Everything a message can carry, at its most hostile: 1 MiB value and key, hundreds of large headers."""
    fields: dict[str, object] = {
        "topic": "tweets",
        "partition": 3,
        "offset": 10**15,
        "key": b"\xff" * 1024 * 1024,
        "value": b"\x00" * 1024 * 1024,
        "timestamp_s": 253_402_300_800.0,  # the year 10000
        "headers": tuple(("\x01" * 5000, b"\xfe" * 100_000) for _ in range(300)),
    }
    return InboundMessage(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_dead_letter_of_the_most_hostile_message_fits_in_one_broker_message() -> None:
    message = worst_case_message()
    rejection = Rejection(RejectReason.NOT_JSON, "\x00" * 100_000)
    letter = DeadLetter.for_message(message, rejection, now=NOW)
    body = letter.to_json()
    assert len(body) < 512 * 1024  # Kafka's and Event Hubs' limit is 1 MiB; the key is sent beside it
    assert letter.kafka_key is not None and len(letter.kafka_key) <= MAX_KEY_BYTES
    assert letter.raw_truncated and letter.key_truncated and letter.headers_truncated
    assert letter.raw_size == letter.key_size == 1024 * 1024
    assert letter.raw_sha256 == hashlib.sha256(message.value or b"").hexdigest()
    assert letter.key_sha256 == hashlib.sha256(message.key or b"").hexdigest()
    assert len(letter.headers) == MAX_HEADERS and all(h.truncated for h in letter.headers)
    assert letter.source_timestamp is None and letter.source_timestamp_ms == 253_402_300_800_000
    assert DeadLetter.from_json(body) == letter


def test_a_dead_letter_keeps_a_small_message_whole_and_is_keyed_by_the_tweet_id_when_known() -> None:
    message = InboundMessage("tweets", 0, 5, b"key-1", b"raw", 1_714_564_800.5, (("trace", b"abc"),))
    letter = DeadLetter.for_message(message, Rejection(RejectReason.STORE_REJECTED, "413"), tweet_id="t-1", now=NOW)
    assert letter.complete and not letter.headers_truncated
    assert letter.key == b"key-1" and letter.kafka_key == b"t-1"
    assert [(h.name, h.value) for h in letter.headers] == [("trace", b"abc")]
    assert letter.source_timestamp == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    anonymous = DeadLetter.for_message(message, Rejection(RejectReason.NOT_JSON, "x"), now=NOW)
    assert anonymous.kafka_key == b"key-1"


def test_a_replayed_message_that_is_refused_again_names_the_letter_it_replayed() -> None:
    headers = ((REPLAY_OF_HEADER, b"1:42"), (REPLAY_RUN_HEADER, b"0123456789abcdef"))
    message = InboundMessage("tweets", 0, 9, None, b"{}", None, headers)
    letter = DeadLetter.for_message(message, Rejection(RejectReason.MISSING_ID, "x"), now=NOW)
    assert (letter.replay_of, letter.replay_run) == ("1:42", "0123456789abcdef")
    forged = InboundMessage("tweets", 0, 9, None, b"{}", None, ((REPLAY_OF_HEADER, b"../../x"),))
    assert DeadLetter.for_message(forged, Rejection(RejectReason.MISSING_ID, "x"), now=NOW).replay_of is None


def test_a_stripped_letter_keeps_reason_position_sizes_and_hashes_but_no_bytes() -> None:
    letter = DeadLetter.for_message(worst_case_message(), Rejection(RejectReason.NOT_JSON, "bad"), now=NOW)
    stripped = letter.stripped("the broker refused it")
    assert stripped.raw == b"" and stripped.key is None and stripped.headers == []
    assert (stripped.reason, stripped.offset, stripped.raw_size, stripped.raw_sha256) == (
        letter.reason,
        letter.offset,
        letter.raw_size,
        letter.raw_sha256,
    )
    assert "the broker refused it" in stripped.message and len(stripped.to_json()) < 4096


def test_a_letter_written_before_the_bounds_existed_still_reads() -> None:
    old = (
        b'{"reason": "store_rejected", "message": "404", "topic": "tweets", "partition": 0, "offset": 3, '
        b'"key_base64": "MQ==", "raw_base64": "e30=", "raw_size": 2, "raw_truncated": false, '
        b'"source_timestamp": null, "dead_lettered_at": "2026-11-26T12:00:00.000000Z"}'
    )
    letter = DeadLetter.from_json(old)
    assert letter.raw == b"{}" and letter.key == b"1" and letter.raw_sha256 is None


def test_a_tombstone_becomes_an_empty_raw_value() -> None:
    letter = DeadLetter.build(
        raw=None, rejection=Rejection(RejectReason.EMPTY, "no value"), topic="t", partition=0, offset=7
    )
    assert letter.raw == b"" and letter.key is None


@pytest.mark.parametrize("data", [b"", b"[]", b'{"reason": "nope"}', b"not json"])
def test_anything_else_is_not_a_dead_letter(data: bytes) -> None:
    with pytest.raises(InvalidMessage):
        DeadLetter.from_json(data)


def scored(**changes: object) -> ScoredEvent:
    fields: dict[str, object] = {
        "id": "1",
        "label": "disaster",
        "confidence": 0.9,
        "probabilities": {"disaster": 0.9, "not_disaster": 0.1},
        "model_name": "tweet-triage",
        "model_version": "3",
        "embedding": [0.25, -1.5, 3.0],
        "created_at": NOW - timedelta(minutes=1),
        "scored_at": NOW,
        "published_at": NOW - timedelta(seconds=1),
    }
    return ScoredEvent.model_validate({**fields, **changes})


def test_scored_event_round_trip() -> None:
    event = scored()
    assert ScoredEvent.from_json(event.to_json()) == event
    assert event.key == b"1"
    assert b'"scored_at":"2024-05-01T12:00:00.123456Z"' in event.to_json()


@pytest.mark.parametrize(
    "changes",
    [
        {"label": "other"},  # not among the probabilities
        {"confidence": 1.5},
        {"probabilities": {"disaster": float("nan"), "not_disaster": 0.1}},
        {"embedding": [float("inf")]},
        {"model_version": ""},
    ],
)
def test_inconsistent_scored_events_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        scored(**changes)


def test_the_v2_embedding_is_compact_close_to_the_values_and_v1_still_reads() -> None:
    values = np.random.default_rng(0).uniform(-1, 1, 384).astype(np.float32)  # tanh outputs
    v2 = scored(embedding=[], embedding_f16=encode_embedding(values))
    v1 = scored(embedding=[float(x) for x in values])
    assert v2.vector is not None and v1.vector is not None
    assert float(np.abs(v2.vector - values).max()) <= 5e-4
    assert np.array_equal(v1.vector, values)
    assert len(v2.to_json()) * 5 < len(v1.to_json())
    assert ScoredEvent.from_json(v2.to_json()).vector is not None
    assert scored(embedding=[]).vector is None


@pytest.mark.parametrize(
    "wire",
    ["not base64!", base64.b64encode(b"\x00\x3c\x00").decode(), encode_embedding(np.array([0.5, np.inf]))],
)
def test_a_broken_v2_embedding_is_refused(wire: str) -> None:
    with pytest.raises(ValueError):
        scored(embedding=[], embedding_f16=wire)


def test_garbage_is_not_a_scored_event() -> None:
    with pytest.raises(InvalidMessage):
        ScoredEvent.from_json(b'{"id": "1"}')


def test_feedback_round_trip_and_refusal() -> None:
    feedback = FeedbackEvent(tweet_id="1", label="disaster", annotator="ana", labelled_at=NOW, comment="flooded street")
    assert FeedbackEvent.from_json(feedback.to_json()) == feedback
    assert feedback.key == b"1"
    with pytest.raises(InvalidMessage):
        FeedbackEvent.from_json(b'{"tweet_id": "1", "label": "disaster"}')


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"tweet_id": "a/b"}, "tweet_id"),  # Cosmos DB cannot hold it as an id or partition key
        ({"tweet_id": "x" * 10_000}, "tweet_id"),
        ({"tweet_id": "\u200b"}, "tweet_id"),
        ({"label": "l" * 10_000}, "label"),
        ({"annotator": "   "}, "annotator"),
        ({"model_version": "v" * 1_000}, "model_version"),
    ],
)
def test_feedback_is_bounded_like_the_tweet_contract(changes: dict[str, object], where: str) -> None:
    fields = {"tweet_id": "1", "label": "disaster", "annotator": "ana", "labelled_at": "2024-05-01T12:00:00Z"}
    with pytest.raises(InvalidMessage, match=where) as caught:
        FeedbackEvent.from_json(json.dumps({**fields, **changes}))
    assert len(str(caught.value)) < 700


def test_timestamps_are_fixed_width_utc() -> None:
    assert format_utc(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == "2024-05-01T12:00:00.000000Z"
    assert format_utc(datetime(999, 1, 1)) == "0999-01-01T00:00:00.000000Z"
