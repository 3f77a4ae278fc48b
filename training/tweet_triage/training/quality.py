"""Checks on the quantized model itself: close to fp32, and batch-invariant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tweet_triage.model.predictor import Predictor
from tweet_triage.training.evaluate import Evaluation, evaluate


@dataclass(frozen=True)
class QuantizationReport:
    fp32: Evaluation
    int8: Evaluation
    f1_drop: float
    label_agreement: float
    max_probability_difference: float
    max_allowed_f1_drop: float

    @property
    def passed(self) -> bool:
        return self.f1_drop <= self.max_allowed_f1_drop


@dataclass(frozen=True)
class BatchInvarianceReport:
    tweets: int
    max_difference: float  # max over tweets and classes of |p(in a batch) − p(alone)|
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_difference <= self.tolerance


def compare_quantized(
    fp32: Predictor,
    int8: Predictor,
    texts: list[str],
    keywords: list[str],
    truth: list[str],
    positive_label: str | None,
    max_f1_drop: float = 0.01,
) -> QuantizationReport:
    p32 = fp32.score(texts, keywords).probabilities
    p8 = int8.score(texts, keywords).probabilities
    e32 = evaluate(p32, truth, fp32.labels, positive_label)
    e8 = evaluate(p8, truth, int8.labels, positive_label)
    return QuantizationReport(
        fp32=e32,
        int8=e8,
        f1_drop=e32.f1 - e8.f1,
        label_agreement=float((p32.argmax(1) == p8.argmax(1)).mean()),
        max_probability_difference=float(np.abs(p32 - p8).max()),
        max_allowed_f1_drop=max_f1_drop,
    )


def batch_invariance(
    predictor: Predictor, texts: list[str], keywords: list[str], tolerance: float = 1e-3, batch_size: int = 32
) -> BatchInvarianceReport:
    """Score every tweet alone, then in batches that mix long and short tweets, then in length-sorted batches."""
    alone = predictor.score(texts, keywords, batch_size=1).probabilities
    mixed = predictor.score(texts, keywords, batch_size=batch_size, sort_by_length=False).probabilities
    sorted_batches = predictor.score(texts, keywords, batch_size=batch_size).probabilities
    worst = max(float(np.abs(mixed - alone).max()), float(np.abs(sorted_batches - alone).max()))
    return BatchInvarianceReport(len(texts), worst, tolerance)
