"""Dead letters, scored events and feedback events: round trips and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tweet_triage.stream.dead_letters import MAX_RAW_BYTES, DeadLetter
from tweet_triage.stream.events import Rejection, RejectReason, parse_event
from tweet_triage.stream.exceptions import InvalidMessage
from tweet_triage.stream.feedback import FeedbackEvent
from tweet_triage.stream.scored import ScoredEvent
from tweet_triage.stream.timestamps import format_utc

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


def test_garbage_is_not_a_scored_event() -> None:
    with pytest.raises(InvalidMessage):
        ScoredEvent.from_json(b'{"id": "1"}')


def test_feedback_round_trip_and_refusal() -> None:
    feedback = FeedbackEvent(tweet_id="1", label="disaster", annotator="ana", labelled_at=NOW, comment="flooded street")
    assert FeedbackEvent.from_json(feedback.to_json()) == feedback
    assert feedback.key == b"1"
    with pytest.raises(InvalidMessage):
        FeedbackEvent.from_json(b'{"tweet_id": "1", "label": "disaster"}')


def test_timestamps_are_fixed_width_utc() -> None:
    assert format_utc(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == "2024-05-01T12:00:00.000000Z"
    assert format_utc(datetime(999, 1, 1)) == "0999-01-01T00:00:00.000000Z"
