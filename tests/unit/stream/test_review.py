"""The review queue's rule: least certain first, newest among equals, labelled tweets and repeated stories left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.review_queue import margin_of, review_order

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def record(
    tweet_id: str, margin: float | None, age_s: int, story: str | None = None, p: float = 0.5
) -> PredictionRecord:
    return PredictionRecord(
        id=tweet_id,
        label="disaster" if p >= 0.5 else "not_disaster",
        confidence=max(p, 1 - p),
        probabilities={"disaster": p, "not_disaster": 1 - p},
        model_name="m",
        model_version="1",
        scored_at=NOW - timedelta(seconds=age_s),
        text=f"tweet {tweet_id}",
        margin=margin,
        story_id=story,
    )


def test_least_certain_first_then_newest_first_among_equal_margins() -> None:
    records = [record("sure", 0.9, 0), record("old-tie", 0.1, 50), record("new-tie", 0.1, 5), record("edge", 0.0, 99)]
    assert [r.id for r in review_order(records, labelled=set(), limit=10)] == ["edge", "new-tie", "old-tie", "sure"]


def test_labelled_tweets_and_further_copies_of_a_listed_story_are_left_out_and_the_limit_holds() -> None:
    records = [
        record("a", 0.05, 1, story="s-1"),
        record("a-copy", 0.04, 2, story="s-1"),
        record("b", 0.2, 3, story="s-2"),
        record("c", 0.3, 4),
        record("d", 0.4, 5),
    ]
    assert [r.id for r in review_order(records, labelled={"b"}, limit=2)] == ["a-copy", "c"]


def test_records_stored_before_margins_rank_by_the_lead_of_the_most_probable_label() -> None:
    assert abs(margin_of(record("old", None, 0, p=0.55)) - 0.1) < 1e-9
