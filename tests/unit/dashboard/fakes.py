"""An in-memory dashboard backend: seeded records, alerts, a word-scoring model, recorded feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.unit.api.fakes import WordScorer
from tweet_triage.api import service
from tweet_triage.api.schemas import (
    ExplainRequest,
    ExplainResponse,
    FeedbackRequest,
    ModelRef,
    PredictionOut,
    TweetIn,
)
from tweet_triage.dashboard.alerts import AlertView
from tweet_triage.dashboard.api_client import ModelStatus, ServiceUnavailable
from tweet_triage.errors import StoreError
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.review_queue import review_order

NOW = datetime.fromisoformat("2026-01-01T12:00:00+00:00")


def record(
    tweet_id: str, text: str, label: str, confidence: float, minutes_ago: float, **extra: Any
) -> PredictionRecord:
    other = "not_disaster" if label == "disaster" else "disaster"
    return PredictionRecord(
        id=tweet_id,
        label=label,
        confidence=confidence,
        probabilities={label: confidence, other: 1 - confidence},
        model_name="fake",
        model_version="7",
        scored_at=NOW - timedelta(minutes=minutes_ago),
        text=text,
        **extra,
    )


@dataclass
class FakeBackend:
    records: list[PredictionRecord] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    store_down: bool = False
    api_down: bool = False
    feedback: list[FeedbackRequest] = field(default_factory=list)
    scorer: WordScorer = field(default_factory=WordScorer)
    recovery: str | None = None

    def store_recovery(self) -> str | None:
        return self.recovery

    def recent(self, limit: int) -> list[PredictionRecord]:
        if self.store_down:
            raise StoreError("cannot reach Cosmos DB at http://127.0.0.1:1: connection refused")
        return sorted(self.records, key=lambda r: r.order_key, reverse=True)[:limit]

    def open_alerts(self) -> list[AlertView]:
        return list(self.alerts)

    def model_status(self) -> ModelStatus:
        if self.api_down:
            return ModelStatus(False, "the scoring service at http://127.0.0.1:1 is not reachable")
        return ModelStatus(True, "ready", None)

    def explain(self, text: str, keyword: str | None) -> ExplainResponse:
        self._check_api()
        return service.explain(self.scorer, ExplainRequest(text=text, keyword=keyword))

    def predict(self, texts: Sequence[str]) -> list[PredictionOut]:
        self._check_api()
        model = ModelRef(name="fake", version=self.scorer.version)
        results = self.scorer.predict(texts)
        return service.respond([TweetIn(text=t) for t in texts], results, model=model, started=0.0).predictions

    def send_feedback(self, feedback: FeedbackRequest) -> None:
        self._check_api()
        self.feedback.append(feedback)

    def review(self, limit: int) -> list[PredictionRecord]:
        self._check_api()
        labelled = {f.tweet_id for f in self.feedback}
        return review_order(self.records, labelled=labelled, limit=limit)

    def _check_api(self) -> None:
        if self.api_down:
            raise ServiceUnavailable("the scoring service at http://127.0.0.1:1 is not reachable")
