"""Metrics on a labelled split: F1, precision, recall, accuracy, ROC-AUC, per-class figures, confusion matrix, ECE."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.model.operating_point import OperatingPoint, decide, threshold_of

ECE_BINS = 15


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


HEADLINE_METRICS = ("f1", "f2", "precision", "recall", "accuracy", "roc_auc", "pr_auc", "ece")  # what the gate compares


@dataclass(frozen=True)
class Evaluation:
    labels: list[str]
    positive_label: str | None
    f1: float  # of the positive class when binary, macro otherwise; at the operating point
    precision: float
    recall: float
    accuracy: float
    roc_auc: float
    ece: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]  # rows: true label, columns: predicted label, in `labels` order
    n: int
    pr_auc: float = float("nan")  # average precision of the positive class (binary only)
    f2: float = float("nan")
    threshold: float | None = None  # the operating point the labels were decided at (None: most probable label)

    def headline(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in HEADLINE_METRICS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    probabilities: npt.NDArray[np.floating[Any]],
    truth: list[str],
    labels: list[str],
    positive_label: str | None,
    point: OperatingPoint | None = None,
) -> Evaluation:
    """Metrics of labels decided at ``point`` (the package's operating point; None: the most probable label)."""
    from sklearn import metrics

    y_true = np.array([labels.index(label) for label in truth])
    y_pred = decide(probabilities, labels, point)
    pr_auc = f2 = float("nan")
    if positive_label is not None:
        pos = labels.index(positive_label)
        average: dict[str, Any] = {"average": "binary", "pos_label": pos}
        both = len(set(y_true)) > 1
        auc = metrics.roc_auc_score(y_true == pos, probabilities[:, pos]) if both else float("nan")
        pr_auc = float(metrics.average_precision_score(y_true == pos, probabilities[:, pos])) if both else pr_auc
        f2 = float(metrics.fbeta_score(y_true, y_pred, beta=2.0, zero_division=0, **average))
    else:
        average = {"average": "macro", "labels": list(range(len(labels)))}
        auc = (
            metrics.roc_auc_score(y_true, probabilities, multi_class="ovr", labels=list(range(len(labels))))
            if len(set(y_true)) == len(labels)
            else float("nan")
        )
    p, r, f, s = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(labels))), zero_division=0
    )
    return Evaluation(
        labels=labels,
        positive_label=positive_label,
        f1=float(metrics.f1_score(y_true, y_pred, zero_division=0, **average)),
        precision=float(metrics.precision_score(y_true, y_pred, zero_division=0, **average)),
        recall=float(metrics.recall_score(y_true, y_pred, zero_division=0, **average)),
        accuracy=float(metrics.accuracy_score(y_true, y_pred)),
        roc_auc=float(auc),
        ece=expected_calibration_error(probabilities, y_true),
        per_class={
            label: ClassMetrics(float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, label in enumerate(labels)
        },
        confusion=metrics.confusion_matrix(y_true, y_pred, labels=list(range(len(labels)))).tolist(),
        n=len(truth),
        pr_auc=pr_auc,
        f2=f2,
        threshold=threshold_of(point),
    )


def expected_calibration_error(
    probabilities: npt.NDArray[np.floating[Any]], y_true: npt.NDArray[np.integer[Any]], bins: int = ECE_BINS
) -> float:
    """Top-label ECE: |accuracy − confidence| averaged over equal-width confidence bins, weighted by bin size."""
    curve = reliability_curve(probabilities, y_true, bins)
    total = sum(count for _, _, count in curve)
    return float(sum(count / total * abs(accuracy - confidence) for confidence, accuracy, count in curve))


def reliability_curve(
    probabilities: npt.NDArray[np.floating[Any]], y_true: npt.NDArray[np.integer[Any]], bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per non-empty bin, for the reliability plot and the ECE."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        (float(confidence[index == b].mean()), float(correct[index == b].mean()), int((index == b).sum()))
        for b in range(bins)
        if (index == b).any()
    ]
