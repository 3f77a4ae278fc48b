"""Rolling accuracy on human feedback: windows per model version, the alert once, re-arming, reloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tweet_triage.monitoring.accuracy import AccuracyMonitor, macro_f1
from tweet_triage.monitoring.feedback_store import FeedbackRecord

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def record(i: int, truth: str, predicted: str | None, version: str | None = "3") -> FeedbackRecord:
    return FeedbackRecord(
        tweet_id=f"t{i}",
        label=truth,
        annotator="ana",
        labelled_at=T0 + timedelta(seconds=i),
        predicted_label=predicted,
        predicted_version=version if predicted else None,
        received_at=T0 + timedelta(seconds=i),
    )


def test_macro_f1_matches_a_hand_computed_case() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")]
    # class a: tp 1, fp 0, fn 1 -> 2/3; class b: tp 2, fp 1, fn 0 -> 4/5
    assert abs(macro_f1(pairs) - (2 / 3 + 4 / 5) / 2) < 1e-12


def test_no_verdict_before_the_minimum_then_one_alert_when_accuracy_falls() -> None:
    monitor = AccuracyMonitor(window=10, min_feedback=4, threshold=0.7)
    outcomes = [monitor.observe(record(i, "disaster", "not_disaster"), T0) for i in range(6)]
    assert [reading is None for reading, _ in outcomes] == [True, True, True, False, False, False]
    drafts = [draft for _, draft in outcomes if draft is not None]
    assert len(drafts) == 1
    assert drafts[0].kind == "accuracy"
    assert drafts[0].model_version == "3"
    assert drafts[0].evidence is not None and drafts[0].evidence.statistic == 0.0


def test_the_alert_re_arms_after_accuracy_recovers() -> None:
    monitor = AccuracyMonitor(window=4, min_feedback=4, threshold=0.5)
    wrong = [monitor.observe(record(i, "a", "b"), T0)[1] for i in range(4)]
    right = [monitor.observe(record(10 + i, "a", "a"), T0)[1] for i in range(4)]
    again = [monitor.observe(record(20 + i, "a", "b"), T0)[1] for i in range(4)]
    assert sum(d is not None for d in wrong) == 1
    assert all(d is None for d in right)
    assert sum(d is not None for d in again) == 1


def test_versions_are_judged_separately_and_unmatched_feedback_is_ignored() -> None:
    monitor = AccuracyMonitor(window=10, min_feedback=2, threshold=0.5)
    monitor.observe(record(1, "a", "a", "3"), T0)
    monitor.observe(record(2, "a", "a", "3"), T0)
    monitor.observe(record(3, "a", "b", "4"), T0)
    monitor.observe(record(4, "a", None), T0)
    three, four = monitor.reading("3"), monitor.reading("4")
    assert three is not None and three.accuracy == 1.0
    assert four is None  # one item only


def test_reloading_replaces_a_version_window_instead_of_double_counting() -> None:
    monitor = AccuracyMonitor(window=10, min_feedback=1, threshold=0.5)
    history = [record(i, "a", "a" if i % 2 else "b") for i in range(4)]
    monitor.load(history)
    monitor.load(history)  # e.g. a rollback to this version
    reading = monitor.reading("3")
    assert reading is not None and reading.n == 4 and reading.accuracy == 0.5


def test_one_person_relabelling_a_tweet_counts_once_and_the_latest_label_counts() -> None:
    monitor = AccuracyMonitor(window=10, min_feedback=1, threshold=0.5)
    for _ in range(5):  # five clicks on the same tweet by the same person
        monitor.observe(record(1, "disaster", "not_disaster").model_copy(update={"labelled_at": T0}), T0)
    reading, _ = monitor.observe(record(1, "not_disaster", "not_disaster"), T0)  # they changed their mind
    assert reading is not None and (reading.n, reading.accuracy) == (1, 1.0)
    other = record(1, "disaster", "not_disaster").model_copy(update={"annotator": "ben"})
    reading, _ = monitor.observe(other, T0)  # a second person on the same tweet is a second label
    assert reading is not None and reading.n == 2


def test_a_relabelled_tweet_moves_to_the_newest_place_of_the_window() -> None:
    monitor = AccuracyMonitor(window=3, min_feedback=1, threshold=0.5)
    for i in range(3):
        monitor.observe(record(i, "disaster", "disaster"), T0)
    monitor.observe(record(0, "not_disaster", "disaster"), T0)  # t0 again: now the newest, t1 the oldest
    reading, _ = monitor.observe(record(3, "disaster", "disaster"), T0)  # pushes out t1, not t0
    assert reading is not None and reading.n == 3 and abs(reading.accuracy - 2 / 3) < 1e-12
