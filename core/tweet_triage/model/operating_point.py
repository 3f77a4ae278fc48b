"""The operating point: the decision threshold on the positive class's probability, chosen on purpose.

A binary model's label is ``positive`` when ``p(positive) >= threshold``. The threshold is chosen on the validation
split by a stated policy and stored in the model package (``package.json``) and its training run, so every path that
turns probabilities into a label — the stream, the API, ``triage predict``, the dashboard, the accuracy monitor, the
shadow comparison — decides the same way and records which threshold made the decision.

Policies (``triage train --operating-point``, setting ``TRIAGE_TRAINING__OPERATING_POINT``):

* ``f2`` (default) — maximise F2: recall weighs twice precision, because for relief work a missed call for help
  costs far more than one more tweet to read;
* ``f1`` — maximise F1;
* ``recall>=R`` — the highest precision among thresholds with recall >= R (e.g. ``recall>=0.9``).

Probabilities stay calibrated (temperature scaling); ``confidence`` stays the probability of the chosen label, so a
tweet labelled positive just above a low threshold has a confidence below 0.5. Packages without an operating point
(older ones, or models with more than two labels) decide by the most probable label.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

DEFAULT_POLICY: Final = "f2"
ARGMAX: Final = "argmax"
_RECALL = re.compile(r"^recall\s*>=\s*(0?\.\d+|1(\.0*)?)$")


@dataclass(frozen=True)
class Policy:
    """How a threshold is chosen: maximise F-beta, or the best precision at a target recall."""

    beta: float | None = 2.0
    min_recall: float | None = None

    @classmethod
    def parse(cls, text: str) -> Policy:
        """``f2``, ``f1``, ``f0.5`` or ``recall>=R``; ``ValueError`` with what is accepted otherwise."""
        spec = text.strip().lower()
        if match := re.fullmatch(r"f(\d+(\.\d+)?)", spec):
            beta = float(match.group(1))
            if beta > 0:
                return cls(beta=beta)
        if match := _RECALL.match(spec):
            recall = float(match.group(1))
            if 0 < recall <= 1:
                return cls(beta=None, min_recall=recall)
        raise ValueError(
            f"operating point {text!r} is not a policy: use 'f2' (the default), 'f1', or 'recall>=R' with 0 < R <= 1"
        )

    def __str__(self) -> str:
        if self.min_recall is not None:
            return f"recall>={self.min_recall:g}"
        return f"f{self.beta:g}"


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold a package decides with, and what it gave on the validation split."""

    policy: str
    positive_label: str
    threshold: float  # label = positive_label when p(positive_label) >= threshold
    precision: float
    recall: float
    f1: float
    f2: float
    n: int  # validation tweets it was chosen on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatingPoint:
        return cls(**data)

    def describe(self) -> str:
        return (
            f"{self.policy}: {self.positive_label} when p >= {self.threshold:.3f} "
            f"(validation precision {self.precision:.3f}, recall {self.recall:.3f})"
        )


def decide(
    probabilities: npt.NDArray[np.floating[Any]], labels: list[str], point: OperatingPoint | None
) -> npt.NDArray[np.intp]:
    """The label index of each row of ``probabilities`` ([tweets, labels], in ``labels`` order)."""
    if point is None or point.positive_label not in labels or len(labels) != 2:
        return np.asarray(np.argmax(probabilities, axis=1), dtype=np.intp)
    pos = labels.index(point.positive_label)
    return np.where(probabilities[:, pos] >= point.threshold, pos, 1 - pos).astype(np.intp)


@dataclass(frozen=True)
class Decision:
    """One tweet's label at the operating point; ``confidence`` is the probability of that label."""

    label: str
    confidence: float
    threshold: float | None  # the threshold that made it (None: the most probable label)
    operating_point: str  # the policy the threshold was chosen by, or "argmax"
    margin: float = 1.0  # how far from a coin toss: 0 when the labels are equally likely, 1 certain (:func:`margins`)


def decisions(
    probabilities: npt.NDArray[np.floating[Any]], labels: list[str], point: OperatingPoint | None
) -> list[Decision]:
    """The :class:`Decision` for each row: what every path that labels tweets records."""
    chosen = decide(probabilities, labels, point)
    threshold, policy = threshold_of(point), policy_of(point)
    margin = margins(probabilities)
    return [
        Decision(labels[int(i)], float(row[int(i)]), threshold, policy, round(float(m), 6))
        for i, row, m in zip(chosen, probabilities, margin, strict=True)
    ]


def margins(probabilities: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """How far each row is from a coin toss, in [0, 1]: the lead of its most probable label over the next.

    The review queue puts the smallest margins first: the tweets whose human label teaches the model most. It is
    measured from p = 0.5 rather than from the operating point on purpose: ``make bench-review`` found that labels
    chosen near an F2 threshold (about 0.2) teach *less* than labels chosen at random (most tweets there are clear
    negatives or label noise), while labels chosen near 0.5 save labels under every policy (docs/decisions.md, 18).
    """
    rows = np.asarray(probabilities, np.float64)
    if rows.shape[1] < 2:
        return np.ones(len(rows))
    top_two = np.sort(rows, axis=1)[:, -2:]
    return np.clip(top_two[:, 1] - top_two[:, 0], 0.0, 1.0)


def threshold_of(point: OperatingPoint | None) -> float | None:
    return None if point is None else point.threshold


def policy_of(point: OperatingPoint | None) -> str:
    return ARGMAX if point is None else point.policy


def f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    denominator = b2 * precision + recall
    return 0.0 if denominator == 0 else (1 + b2) * precision * recall / denominator


@dataclass(frozen=True)
class Curve:
    """Precision and recall for every threshold that changes a decision (descending thresholds)."""

    thresholds: npt.NDArray[np.float64]
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]


def pr_curve(p_positive: npt.NDArray[np.floating[Any]], is_positive: npt.NDArray[np.bool_]) -> Curve:
    order = np.argsort(-p_positive, kind="stable")
    scores = np.asarray(p_positive, np.float64)[order]
    hits = np.asarray(is_positive, bool)[order]
    true_pos = np.cumsum(hits)
    predicted = np.arange(1, len(scores) + 1)
    last_of_each = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]  # ties decide together
    positives = max(int(hits.sum()), 1)
    return Curve(
        scores[last_of_each],
        true_pos[last_of_each] / predicted[last_of_each],
        true_pos[last_of_each] / positives,
    )


def choose(
    p_positive: npt.NDArray[np.floating[Any]],
    is_positive: npt.NDArray[np.bool_],
    policy: Policy,
    positive_label: str,
) -> OperatingPoint:
    """The threshold ``policy`` picks on these validation scores."""
    if not np.asarray(is_positive).any():
        raise ValueError("cannot choose an operating point: the validation split has no positive tweet")
    curve = pr_curve(p_positive, is_positive)
    if policy.min_recall is not None:
        eligible = np.flatnonzero(curve.recall >= policy.min_recall - 1e-12)
        best = int(eligible[np.argmax(curve.precision[eligible])])  # recall reaches 1 at the lowest threshold
    else:
        assert policy.beta is not None
        scores = [f_beta(p, r, policy.beta) for p, r in zip(curve.precision, curve.recall, strict=True)]
        best = int(np.argmax(scores))
    precision, recall = float(curve.precision[best]), float(curve.recall[best])
    return OperatingPoint(
        policy=str(policy),
        positive_label=positive_label,
        threshold=math.floor(float(curve.thresholds[best]) * 1e6) / 1e6,  # never above the chosen score
        precision=precision,
        recall=recall,
        f1=f_beta(precision, recall, 1.0),
        f2=f_beta(precision, recall, 2.0),
        n=len(p_positive),
    )
