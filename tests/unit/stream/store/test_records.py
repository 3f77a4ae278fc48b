"""The prediction record: id = tweet id, a unique time-ordered key, clean round trips through a Cosmos item."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.helpers import scored
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.store.records import PredictionRecord

SCORED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def record(tweet_id: str = "1", scored_at: datetime = SCORED) -> PredictionRecord:
    tweet = TweetEvent(id=tweet_id, text="bridge collapsed", keyword="collapse", published_at=SCORED)
    return scored(tweet, scored_at=scored_at, model_version="4")


def test_the_item_id_is_the_tweet_id_and_carries_what_dashboards_need() -> None:
    item = record("12345").to_item()
    assert item["id"] == "12345"
    assert item["model_version"] == "4" and item["keyword"] == "collapse" and item["text"] == "bridge collapsed"
    assert item["order_key"] == "2024-05-01T12:00:00.000000Z#12345"
    assert item["published_at"] == "2024-05-01T12:00:00.000000Z"


def test_a_stored_item_reads_back_without_system_properties() -> None:
    original = record()
    item = {**original.to_item(), "_rid": "x", "_ts": 1714564800, "_etag": '"0"', "_self": "s", "_attachments": "a"}
    assert PredictionRecord.from_item(item) == original


def test_the_order_key_sorts_by_time_then_id() -> None:
    keys = [
        record("b", SCORED).order_key,
        record("a", SCORED).order_key,
        record("a", datetime(2024, 5, 1, 11, 59, 59, 999999, tzinfo=UTC)).order_key,
    ]
    assert sorted(keys) == [keys[2], keys[1], keys[0]]


def test_an_id_cosmos_cannot_store_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="Cosmos"):
        PredictionRecord.model_validate({**record().to_item(), "id": "a/b"})
