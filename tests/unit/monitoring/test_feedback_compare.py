"""One label per (tweet, annotator): which feedback event replaces the stored label, which is ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.monitoring.feedback_store import Comparison, FeedbackRecord, compare, feedback_id

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
STORED = FeedbackRecord(
    tweet_id="t1", label="disaster", annotator="ana", labelled_at=T0, comment="confirmed", received_at=T0
)


def event(label: str = "disaster", seconds: int = 0, comment: str | None = "confirmed") -> FeedbackEvent:
    return FeedbackEvent(
        tweet_id="t1", label=label, annotator="ana", labelled_at=T0 + timedelta(seconds=seconds), comment=comment
    )


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        (event(), "repeat"),  # a re-delivery
        (event(seconds=30), "repeat"),  # the same click again later
        (event("not_disaster", seconds=30), "changed"),
        (event(seconds=30, comment="now with a photo"), "changed"),
        (event("not_disaster", seconds=-30), "older"),  # a late copy of an earlier label never wins
    ],
)
def test_compare(incoming: FeedbackEvent, expected: Comparison) -> None:
    assert compare(STORED, incoming) == expected


def test_nothing_stored_is_new_and_the_item_id_is_per_tweet_and_annotator() -> None:
    assert compare(None, event()) == "new"
    assert STORED.id == feedback_id("t1", "ana") != feedback_id("t1", "ben") != feedback_id("t2", "ana")
