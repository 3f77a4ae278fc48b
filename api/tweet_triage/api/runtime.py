"""What one API process holds: the serving model, the feedback publisher, the review queue's store, keys, limits and
metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tweet_triage.api import service
from tweet_triage.api.auth import ApiKeys
from tweet_triage.api.feedback_publisher import FeedbackPublisher
from tweet_triage.api.metrics import ApiMetrics
from tweet_triage.api.schemas import ModelInfoOut
from tweet_triage.store.records import PredictionRecord


class ReviewSource(Protocol):
    window: int

    def queue(self, limit: int) -> list[PredictionRecord]:
        """The ``limit`` stored tweets most worth a person's label (blocking; called in a thread)."""
        ...


@dataclass(frozen=True)
class Limits:
    max_batch: int = 64
    max_text_chars: int = 1_000
    max_body_bytes: int = 256 * 1024


@dataclass
class ApiRuntime:
    model: service.ModelSource
    publisher: FeedbackPublisher
    model_info: Callable[[str, list[str]], ModelInfoOut]
    model_name: str
    keys: ApiKeys
    review: ReviewSource  # the review queue's store
    protect_reads: bool = False  # predict, explain and model need a key too (on in the azure profile)
    limits: Limits = Limits()
    refresh: Callable[[], object] | None = None  # called in a thread every poll interval (hot swap)
    poll_s: float = 5.0
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    scoring_slots: int = 1  # concurrent model calls per process; ONNX Runtime already uses every core
    batch_window_s: float = 0.002  # how long a request that finds the model idle waits for others to join it
    batch_max_tweets: int = 64  # most tweets of concurrent requests scored in one model call
