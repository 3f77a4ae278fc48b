"""A scored event carries the whole prediction: the predictions container can be rebuilt from the topic."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.helpers import scored
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.contracts.tweets import TweetEvent


def test_the_prediction_comes_back_exactly_from_the_published_event() -> None:
    tweet = TweetEvent.model_validate(
        {
            "id": "42",
            "text": "Bridge collapsed, people trapped",
            "keyword": "collapse",
            "location": "Quito",
            "created_at": "2026-12-01T10:00:00Z",
        }
    )
    at = datetime(2026, 12, 1, 10, 0, 1, 250000, tzinfo=UTC)
    record = scored(tweet, scored_at=at, label="emergency", confidence=0.93, other="other", model_version="3")
    event = ScoredEvent.from_prediction(record, [0.25, -1.0])

    back = ScoredEvent.from_json(event.to_json())
    assert back.vector is not None and back.vector.tolist() == [0.25, -1.0]  # exact in float16
    assert back.to_prediction() == record
    assert back.to_prediction().to_item() == record.to_item()  # type: ignore[union-attr]


def test_an_event_from_before_the_tweet_fields_rebuilds_nothing() -> None:
    old = ScoredEvent.from_json(
        b'{"id": "1", "label": "other", "confidence": 0.6, "probabilities": {"other": 0.6, "emergency": 0.4}, '
        b'"model_name": "tweet-triage", "model_version": "1", "scored_at": "2026-12-01T10:00:00Z"}'
    )
    assert old.to_prediction() is None
