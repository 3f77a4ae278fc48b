"""What the routes do, as plain functions over whatever model is serving: no FastAPI in here."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from tweet_triage.api import explain as occlusion
from tweet_triage.api.schemas import (
    ExplainRequest,
    ExplainResponse,
    ModelRef,
    PredictionOut,
    PredictResponse,
    TweetIn,
    WordWeightOut,
)
from tweet_triage.errors import ErrorKind, TriageError
from tweet_triage.model.predictor import Prediction


class ModelNotLoaded(TriageError):
    """No production model is loaded yet; the server picks one up without a restart once it is promoted."""

    kind = ErrorKind.UNAVAILABLE


class Scorer(occlusion.BatchScorer, Protocol):
    """A loaded model version (``tweet_triage.model.predictor.Predictor`` is one)."""

    def predict(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> list[Prediction]: ...


class ModelSource(Protocol):
    """The model serving right now (``tweet_triage.model.watcher.ModelWatcher`` is one)."""

    @property
    def ready(self) -> bool: ...

    @property
    def current(self) -> Scorer: ...

    @property
    def problem(self) -> str | None:
        """Why the server is not ready although a model may be loaded (e.g. production moved without approval)."""


def respond(
    tweets: Sequence[TweetIn], results: Sequence[Prediction], *, model: ModelRef, started: float
) -> PredictResponse:
    """The answer to a predict request: ``results`` (one per tweet, made by ``model``) and the time since ``started``
    (a ``time.perf_counter()`` reading)."""
    predictions = [
        PredictionOut(
            id=tweet.id,
            label=result.label,
            confidence=round(result.confidence, 6),
            probabilities={k: round(v, 6) for k, v in result.probabilities.items()},
            model_version=result.model_version,
            threshold=result.threshold,
            operating_point=result.operating_point,
            language=result.language,
            out_of_scope=result.out_of_scope,
        )
        for tweet, result in zip(tweets, results, strict=True)
    ]
    return PredictResponse(
        model=model,
        predictions=predictions,
        latency_ms=round(1e3 * (time.perf_counter() - started), 3),
    )


def explain(scorer: Scorer, request: ExplainRequest) -> ExplainResponse:
    started = time.perf_counter()
    result = occlusion.explain(scorer, request.text, request.keyword)
    return ExplainResponse(
        label=result.label,
        confidence=round(result.confidence, 6),
        probabilities={k: round(v, 6) for k, v in result.probabilities.items()},
        model_version=result.model_version,
        method=result.method,
        words=[WordWeightOut(word=w.word, start=w.start, end=w.end, weight=round(w.weight, 6)) for w in result.words],
        latency_ms=round(1e3 * (time.perf_counter() - started), 3),
    )
