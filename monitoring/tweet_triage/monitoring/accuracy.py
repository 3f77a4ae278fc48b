"""Rolling accuracy and macro-F1 of each model version on human feedback, and the alert when it drops.

Per model version, the last ``window`` feedback items whose prediction came from that version count — one per
(tweet, annotator): a person who changes their label replaces their earlier one in the window (it moves to the
newest place), so one person clicking "wrong" again and again counts once. Below ``min_feedback`` items nothing is
judged (a handful of labels says little). When accuracy falls below the threshold an ``accuracy`` draft is returned
once; it re-arms after accuracy recovers. The window is rebuilt from the feedback store on start, so a restart
neither forgets nor double-counts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tweet_triage.monitoring.alerts.records import AlertDraft, Evidence
from tweet_triage.monitoring.feedback_store import FeedbackRecord


@dataclass(frozen=True)
class AccuracyReading:
    model_version: str
    n: int
    accuracy: float
    macro_f1: float


def macro_f1(pairs: Iterable[tuple[str, str]]) -> float:
    """Unweighted mean of per-class F1 over the classes present in truth or prediction."""
    pairs = list(pairs)
    classes = sorted({label for pair in pairs for label in pair})
    if not classes:
        return 0.0
    scores = []
    for cls in classes:
        tp = sum(1 for true, pred in pairs if true == cls and pred == cls)
        fp = sum(1 for true, pred in pairs if true != cls and pred == cls)
        fn = sum(1 for true, pred in pairs if true == cls and pred != cls)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


class AccuracyMonitor:
    def __init__(self, *, window: int, min_feedback: int, threshold: float) -> None:
        self._window = window
        self._min = min_feedback
        self._threshold = threshold
        self._pairs: dict[str, OrderedDict[str, tuple[str, str]]] = {}  # version -> feedback id -> (truth, predicted)
        self._version_of: dict[str, str] = {}  # feedback id -> the version whose window holds it
        self._alerting: set[str] = set()

    def load(self, records: Iterable[FeedbackRecord]) -> None:
        """Seed the windows from stored feedback (oldest first), without raising alerts for the past."""
        records = list(records)
        for version in {r.predicted_version for r in records}:
            for feedback_id in self._pairs.pop(version or "", {}):  # a reload (after a rollback) replaces
                self._version_of.pop(feedback_id, None)
        for record in records:
            self._add(record)
        for version in self._pairs:
            reading = self.reading(version)
            if reading is not None and self._below(reading):
                self._alerting.add(version)

    def observe(self, record: FeedbackRecord, now: datetime) -> tuple[AccuracyReading | None, AlertDraft | None]:
        """Count one feedback item; return the version's reading and a draft if accuracy just fell too low."""
        version = self._add(record)
        if version is None:
            return None, None
        reading = self.reading(version)
        if reading is None:
            return None, None
        if not self._below(reading):
            self._alerting.discard(version)
            return reading, None
        if version in self._alerting:
            return reading, None
        self._alerting.add(version)
        return reading, self._draft(reading, now)

    def reading(self, version: str) -> AccuracyReading | None:
        pairs = self._pairs.get(version)
        if not pairs or len(pairs) < self._min:
            return None
        accuracy = sum(1 for true, pred in pairs.values() if true == pred) / len(pairs)
        return AccuracyReading(version, len(pairs), accuracy, macro_f1(pairs.values()))

    def _add(self, record: FeedbackRecord) -> str | None:
        """Put the record's pair at the newest place of its version's window, replacing its earlier pair."""
        earlier = self._version_of.pop(record.id, None)
        if earlier is not None:
            self._pairs[earlier].pop(record.id, None)
        if record.predicted_label is None or record.predicted_version is None:
            return None  # feedback on a tweet without a stored prediction says nothing about a model
        window = self._pairs.setdefault(record.predicted_version, OrderedDict())
        window[record.id] = (record.label, record.predicted_label)
        self._version_of[record.id] = record.predicted_version
        while len(window) > self._window:
            oldest, _ = window.popitem(last=False)
            self._version_of.pop(oldest, None)
        return record.predicted_version

    def _below(self, reading: AccuracyReading) -> bool:
        return reading.accuracy < self._threshold

    def _draft(self, reading: AccuracyReading, now: datetime) -> AlertDraft:
        return AlertDraft(
            kind="accuracy",
            severity="critical",
            title=f"Accuracy on human feedback fell to {reading.accuracy:.0%}",
            summary=(
                f"Of the last {reading.n} tweets people labelled, model v{reading.model_version} got "
                f"{reading.accuracy:.0%} right (threshold {self._threshold:.0%}; macro-F1 {reading.macro_f1:.2f}). "
                "Check recent feedback for a new kind of tweet, consider a rollback, and review the retrained "
                "candidate when it arrives (docs/runbook.md#accuracy)."
            ),
            model_version=reading.model_version,
            evidence=Evidence(
                source="accuracy", statistic=reading.accuracy, threshold=self._threshold, window=reading.n, at=now
            ),
            details={"macro_f1": reading.macro_f1},
        )
