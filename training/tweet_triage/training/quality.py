"""Checks on a quantized graph against fp32 on the test split: close to fp32, and batch-invariant.

The thresholds are the quantization rule's (:class:`~tweet_triage.training.quantization.rule.QuantizationRule`):
the study applies them on validation tweets to choose the graphs, the pipeline applies them again on the test split
to every graph it ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tweet_triage.model.predictor import Predictor
from tweet_triage.training.evaluate import Evaluation, evaluate
from tweet_triage.training.quantization.rule import QuantizationRule


@dataclass(frozen=True)
class QuantizationReport:
    graph: str
    fp32: Evaluation
    int8: Evaluation
    f1_drop: float
    label_agreement: float
    max_probability_difference: float
    max_allowed_f1_drop: float
    min_label_agreement: float

    @property
    def passed(self) -> bool:
        return self.f1_drop <= self.max_allowed_f1_drop and self.label_agreement >= self.min_label_agreement


@dataclass(frozen=True)
class BatchInvarianceReport:
    graph: str
    tweets: int
    max_difference: float  # max over tweets and classes of |p(in a batch) − p(alone)|
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_difference <= self.tolerance


def compare_quantized(
    fp32: Predictor,
    int8: Predictor,
    texts: Sequence[str],
    keywords: Sequence[str | None],
    truth: list[str],
    positive_label: str | None,
    rule: QuantizationRule,
) -> QuantizationReport:
    p32 = fp32.score(texts, keywords).probabilities
    p8 = int8.score(texts, keywords).probabilities
    point = int8.operating_point  # both graphs judged at the package's operating point
    e32 = evaluate(p32, truth, fp32.labels, positive_label, point)
    e8 = evaluate(p8, truth, int8.labels, positive_label, point)
    return QuantizationReport(
        graph=int8.graph,
        fp32=e32,
        int8=e8,
        f1_drop=e32.f1 - e8.f1,
        # agreement on the most probable label, as the study measures it: the rule's test of numerical fidelity
        # (the study runs before the operating point exists); F1 above is at the operating point
        label_agreement=float((p32.argmax(1) == p8.argmax(1)).mean()),
        max_probability_difference=float(np.abs(p32 - p8).max()),
        max_allowed_f1_drop=rule.max_f1_drop,
        min_label_agreement=rule.min_agreement,
    )


def batch_invariance(
    predictor: Predictor,
    texts: Sequence[str],
    keywords: Sequence[str | None],
    tolerance: float,
    batch_size: int = 32,
) -> BatchInvarianceReport:
    """Score every tweet alone, then in batches that mix long and short tweets, then in length-sorted batches."""
    alone = predictor.score(texts, keywords, batch_size=1).probabilities
    mixed = predictor.score(texts, keywords, batch_size=batch_size, sort_by_length=False).probabilities
    sorted_batches = predictor.score(texts, keywords, batch_size=batch_size).probabilities
    worst = max(float(np.abs(mixed - alone).max()), float(np.abs(sorted_batches - alone).max()))
    return BatchInvarianceReport(predictor.graph, len(texts), worst, tolerance)


GraphChecks = tuple[QuantizationReport, BatchInvarianceReport]


def check_graphs(
    fp32: Predictor,
    package: Path,
    names: Sequence[str],
    texts: Sequence[str],
    keywords: Sequence[str | None],
    truth: list[str],
    positive_label: str | None,
    rule: QuantizationRule,
    *,
    threads: int = 2,
) -> list[GraphChecks]:
    """The quantization rule on labelled (test) tweets for every graph ``names`` of the package in ``package``."""
    results = []
    for name in names:
        graph = Predictor(package, version="candidate", graph=name, threads=threads)
        results.append(
            (
                compare_quantized(fp32, graph, texts, keywords, truth, positive_label, rule),
                batch_invariance(graph, texts, keywords, rule.max_invariance),
            )
        )
    return results
