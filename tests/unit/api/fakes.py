"""A deterministic stand-in model and feedback publisher for API and dashboard unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tweet_triage.api.feedback_publisher import FeedbackUnavailable
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.errors import TriageError
from tweet_triage.model.language import identify_all
from tweet_triage.model.operating_point import Decision, OperatingPoint, decisions
from tweet_triage.model.predictor import Prediction, ScoredBatch
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.review_queue import review_order

LABELS = ["not_disaster", "disaster"]
ALARM_WORDS = {"fire": 0.3, "flood": 0.3, "trapped": 0.25, "help": 0.1}


@dataclass
class WordScorer:
    """p(disaster) = 0.1 + the alarm words' weights (capped at 0.95): easy to reason about in tests."""

    version: str = "7"
    calls: list[int] = field(default_factory=list)  # batch sizes seen by score()
    point: OperatingPoint | None = None  # decide at this operating point (None: the most probable label)

    @property
    def labels(self) -> list[str]:
        return list(LABELS)

    def score(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> ScoredBatch:
        self.calls.append(len(texts))
        disaster = np.array(
            [min(0.95, 0.1 + sum(ALARM_WORDS.get(w.lower(), 0.0) for w in t.split())) for t in texts], np.float32
        )
        probabilities = np.stack([1 - disaster, disaster], axis=1).astype(np.float32)
        return ScoredBatch(probabilities, np.zeros((len(texts), 4), np.float32))

    def decide(self, probabilities: npt.NDArray[np.float32]) -> list[Decision]:
        return decisions(probabilities, LABELS, self.point)

    def predict(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> list[Prediction]:
        scored = self.score(texts, keywords)
        return [
            Prediction(
                label=d.label,
                confidence=d.confidence,
                probabilities={label: float(p) for label, p in zip(LABELS, probs, strict=True)},
                model_version=self.version,
                threshold=d.threshold,
                operating_point=d.operating_point,
                language=language.code,
                out_of_scope=language.out_of_scope(),
            )
            for probs, d, language in zip(
                scored.probabilities, self.decide(scored.probabilities), identify_all(texts, ["en"]), strict=True
            )
        ]


@dataclass
class SwappableModel:
    scorer: WordScorer | None = None
    problem: str | None = None  # e.g. production moved to a version without an approval record

    @property
    def ready(self) -> bool:
        return self.scorer is not None

    @property
    def current(self) -> WordScorer:
        assert self.scorer is not None
        return self.scorer


@dataclass
class RecordingPublisher:
    events: list[FeedbackEvent] = field(default_factory=list)
    broken: bool = False
    topic: str = "tweets-feedback"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, event: FeedbackEvent) -> None:
        if self.broken:
            raise FeedbackUnavailable("the feedback topic is down; try again")
        self.events.append(event)


class FakeReviewSource:
    """The review queue over records held in memory; ``error`` is raised instead, as the store can (outage, ...)."""

    window = 100

    def __init__(self) -> None:
        self.records: list[PredictionRecord] = []
        self.labelled: set[str] = set()
        self.error: TriageError | None = None

    def queue(self, limit: int) -> list[PredictionRecord]:
        if self.error is not None:
            raise self.error
        return review_order(self.records[: self.window], labelled=self.labelled, limit=limit)
