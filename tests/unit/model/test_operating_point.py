"""Choosing and applying the operating point: the policies, ties, and the decision rule every path uses."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tweet_triage.model.operating_point import (
    OperatingPoint,
    Policy,
    choose,
    decide,
    decisions,
    f_beta,
    margins,
    pr_curve,
)

LABELS = ["not_disaster", "disaster"]


def _metrics(p: npt.NDArray[np.float64], truth: npt.NDArray[np.bool_], threshold: float) -> tuple[float, float]:
    predicted = p >= threshold
    tp = float((predicted & truth).sum())
    return tp / max(predicted.sum(), 1), tp / truth.sum()


@pytest.mark.parametrize(
    ("text", "shown"), [("f2", "f2"), ("F1", "f1"), (" f0.5 ", "f0.5"), ("recall>=0.9", "recall>=0.9")]
)
def test_policies_parse_and_print_back(text: str, shown: str) -> None:
    assert str(Policy.parse(text)) == shown


@pytest.mark.parametrize("text", ["", "f0", "recall>=1.5", "recall>=0", "precision", "f-2"])
def test_a_bad_policy_names_the_accepted_ones(text: str) -> None:
    with pytest.raises(ValueError, match="'f2' \\(the default\\), 'f1', or 'recall>=R'"):
        Policy.parse(text)


def test_each_policy_picks_the_best_threshold_of_the_validation_scores() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(400) < 0.4
    p = np.clip(np.where(truth, rng.normal(0.65, 0.2, 400), rng.normal(0.35, 0.2, 400)), 0, 1)
    candidates = np.unique(p)
    for beta in (1.0, 2.0):
        point = choose(p, truth, Policy(beta=beta), "disaster")
        best = max(f_beta(*_metrics(p, truth, t), beta) for t in candidates)
        assert f_beta(*_metrics(p, truth, point.threshold), beta) == pytest.approx(best)
        assert (point.precision, point.recall) == pytest.approx(_metrics(p, truth, point.threshold))
    f1, f2 = choose(p, truth, Policy(beta=1.0), "disaster"), choose(p, truth, Policy(beta=2.0), "disaster")
    assert f2.threshold < f1.threshold and f2.recall > f1.recall  # recall-first means a lower threshold
    target = choose(p, truth, Policy(beta=None, min_recall=0.9), "disaster")
    assert target.recall >= 0.9
    eligible = [t for t in candidates if _metrics(p, truth, t)[1] >= 0.9]
    assert target.precision == pytest.approx(max(_metrics(p, truth, t)[0] for t in eligible))


def test_tied_scores_decide_together() -> None:
    curve = pr_curve(np.array([0.9, 0.5, 0.5, 0.1]), np.array([True, True, False, False]))
    assert list(curve.thresholds) == [0.9, 0.5, 0.1]
    assert list(curve.recall) == [0.5, 1.0, 1.0]


def test_a_split_without_positives_is_refused() -> None:
    with pytest.raises(ValueError, match="no positive tweet"):
        choose(np.array([0.2, 0.7]), np.array([False, False]), Policy(), "disaster")


def test_decisions_apply_the_threshold_and_keep_the_chosen_labels_probability() -> None:
    p = np.array([[0.8, 0.2], [0.6, 0.4], [0.1, 0.9]], np.float32)
    point = OperatingPoint("f2", "disaster", 0.3, 0.7, 0.9, 0.79, 0.85, 10)
    assert list(decide(p, LABELS, point)) == [0, 1, 1]
    assert list(decide(p, LABELS, None)) == [0, 0, 1]  # no operating point: the most probable label
    made = decisions(p, LABELS, point)
    assert [(d.label, round(d.confidence, 2), d.threshold) for d in made] == [
        ("not_disaster", 0.8, 0.3),
        ("disaster", 0.4, 0.3),
        ("disaster", 0.9, 0.3),
    ]
    assert {d.operating_point for d in decisions(p, LABELS, None)} == {"argmax"}


def test_the_margin_is_the_lead_of_the_most_probable_label_whatever_the_threshold() -> None:
    point = OperatingPoint("f2", "disaster", 0.2, 0.7, 0.85, 0.77, 0.81, 10)
    p = np.array([0.5, 0.2, 0.0, 0.6, 1.0])
    rows = np.c_[1 - p, p]
    np.testing.assert_allclose(margins(rows), [0.0, 0.6, 1.0, 0.2, 1.0])
    assert [d.margin for d in decisions(rows, LABELS, point)] == pytest.approx([0.0, 0.6, 1.0, 0.2, 1.0])
    assert [d.label for d in decisions(rows, LABELS, point)][:2] == ["disaster", "disaster"], "decided at 0.2"
