"""Shadow items and the shadow-vs-production comparison (plain logic, no services)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers import scored
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.settings import load_settings
from tweet_triage.stream.shadow import DiscardingPublisher, shadow_item, shadow_settings
from tweet_triage.stream.shadow_report import compare, latest_labels


def _item(tweet_id: str, label: str, version: str, confidence: float = 0.9) -> dict[str, Any]:
    return {"id": tweet_id, "tweet_id": tweet_id, "label": label, "confidence": confidence, "model_version": version}


def test_a_shadow_item_is_keyed_by_tweet_and_version() -> None:
    tweet = TweetEvent.model_validate({"id": "t1", "text": "fire"})
    record = scored(tweet, scored_at=datetime(2026, 1, 1, tzinfo=UTC), model_name="m", model_version="7")
    item = shadow_item(record)
    assert (item["id"], item["tweet_id"], item["model_version"]) == ("t1:v7", "t1", "7")
    assert item["label"] == "disaster"


def test_the_shadow_has_its_own_consumer_group_and_publishes_nothing() -> None:
    settings = load_settings(kafka={"consumer_group": "workers"})
    assert shadow_settings(settings, "7").kafka.consumer_group == "workers-shadow-v7"
    assert shadow_settings(settings, "7").kafka.topic_tweets == settings.kafka.topic_tweets
    publisher = DiscardingPublisher()
    asyncio.run(publisher.send_many("tweets-scored", [(b"k", b"v"), (None, b"w")]))
    assert publisher.discarded == 2


def test_the_newest_human_label_wins() -> None:
    feedback = [
        {"tweet_id": "a", "label": "x", "labelled_at": "2026-01-02T00:00:00Z"},
        {"tweet_id": "a", "label": "y", "labelled_at": "2026-01-01T00:00:00Z"},
        {"tweet_id": "b", "label": "y", "labelled_at": "2026-01-01T00:00:00Z"},
    ]
    assert latest_labels(feedback) == {"a": "x", "b": "y"}


def test_comparison_on_a_hand_checked_case() -> None:
    shadow = [_item("a", "d", "2"), _item("b", "d", "2"), _item("c", "n", "2"), _item("d", "n", "2", 0.5)]
    shadow.append(_item("a", "n", "3"))  # another candidate: ignored
    production = {
        "a": _item("a", "d", "1", 0.7),
        "b": _item("b", "n", "1"),
        "c": _item("c", "n", "1"),
    }  # d: not (yet) scored by production
    feedback = [
        {"tweet_id": "a", "label": "d", "labelled_at": "2026-01-01T00:00:00Z"},
        {"tweet_id": "b", "label": "d", "labelled_at": "2026-01-01T00:00:00Z"},
        {"tweet_id": "d", "label": "n", "labelled_at": "2026-01-01T00:00:00Z"},  # unpaired: not counted
    ]
    report = compare("2", shadow, production, feedback)
    assert (report.shadow_scored, report.paired, report.agreeing) == (4, 3, 2)
    assert report.agreement == pytest.approx(2 / 3)
    assert report.disagreements == {"n->d": 1}
    assert (report.candidate_on_feedback.labelled, report.candidate_on_feedback.correct) == (2, 2)
    assert (report.production_on_feedback.labelled, report.production_on_feedback.correct) == (2, 1)
    assert report.mean_abs_confidence_difference == pytest.approx((0.2 + 0.0 + 0.0) / 3)
    assert report.production_versions == ["1"]
    data = report.to_dict()
    assert data["candidate_on_feedback"]["accuracy"] == 1.0 and data["production_on_feedback"]["accuracy"] == 0.5


def test_no_shadow_results_gives_an_empty_report() -> None:
    report = compare("9", [], {}, [])
    assert report.shadow_scored == 0 and report.agreement is None
    assert report.candidate_on_feedback.accuracy is None
