"""The monitor's feedback path with in-memory stores: one label per (tweet, annotator), repeats counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from tests.helpers import prediction
from tests.twins.stores import AlertStoreTwin, FeedbackStoreTwin
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.retrain.service import RetrainService
from tweet_triage.monitoring.runtime import MonitorRuntime
from tweet_triage.settings import load_settings
from tweet_triage.store.records import PredictionRecord

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def stored_prediction(tweet_id: str) -> PredictionRecord:
    return prediction(tweet_id, label="not_disaster", other="disaster", model_version="3", scored_at=T0)


def runtime(feedback: FeedbackStoreTwin, *, min_feedback: int = 1) -> MonitorRuntime:
    settings = load_settings(monitor={"accuracy_min_feedback": min_feedback, "accuracy_threshold": 0.5})
    return MonitorRuntime(
        settings,
        registry=cast(Registry, None),
        center=AlertCenter(AlertStoreTwin(), None, cooldown_s=3600, clock=lambda: T0),
        feedback=feedback,
        predictions=stored_prediction,
        retrain=cast(RetrainService, None),
        clock=lambda: T0,
    )


def label(tweet_id: str, value: str, *, annotator: str = "ana", seconds: int = 0) -> FeedbackEvent:
    return FeedbackEvent(
        tweet_id=tweet_id, label=value, annotator=annotator, labelled_at=T0 + timedelta(seconds=seconds)
    )


def feed(monitor: MonitorRuntime, *events: FeedbackEvent) -> list[Any]:
    return [monitor.judge_feedback(monitor.store_feedback(event)) for event in events]


def test_one_person_clicking_wrong_again_and_again_is_one_label() -> None:
    store = FeedbackStoreTwin()
    monitor = runtime(store, min_feedback=3)
    drafts = feed(monitor, *[label("t1", "disaster", seconds=i) for i in range(10)])  # 10 clicks, one tweet
    assert drafts == [None] * 10  # one label is below the 3 needed for a verdict: no alert, however many clicks
    assert store.saves == 1 and len(store.items) == 1
    assert monitor.accuracy.reading("3") is None


def test_re_deliveries_and_older_copies_are_ignored_and_the_latest_label_wins() -> None:
    store = FeedbackStoreTwin()
    monitor = runtime(store)
    changes = [
        monitor.store_feedback(event)
        for event in (
            label("t1", "disaster", seconds=10),
            label("t1", "disaster", seconds=10),  # re-delivered
            label("t1", "not_disaster", seconds=5),  # an older label arriving late
            label("t1", "not_disaster", seconds=20),  # the person changed their mind
        )
    ]
    assert [c.comparison for c in changes] == ["new", "repeat", "older", "changed"]
    for change in changes:
        monitor.judge_feedback(change)
    [stored] = store.iter_all()
    assert stored.label == "not_disaster" and store.saves == 2
    reading = monitor.accuracy.reading("3")
    assert reading is not None and (reading.n, reading.accuracy) == (1, 1.0)


def test_two_people_labelling_one_tweet_are_two_labels() -> None:
    store = FeedbackStoreTwin()
    monitor = runtime(store)
    feed(monitor, label("t1", "disaster"), label("t1", "disaster", annotator="ben"))
    reading = monitor.accuracy.reading("3")
    assert len(store.items) == 2 and reading is not None and reading.n == 2
