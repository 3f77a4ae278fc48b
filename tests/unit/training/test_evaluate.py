from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tweet_triage.model.gate import GateCheck, GateReport, GateVerdict, decide
from tweet_triage.model.text import normalize_tweet
from tweet_triage.settings import GateSettings
from tweet_triage.training.behaviour import standard_checks
from tweet_triage.training.evaluate import evaluate, expected_calibration_error
from tweet_triage.training.finetune import fit_temperature


def test_metrics_on_a_known_confusion() -> None:
    labels = ["disaster", "other"]
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    truth = ["disaster", "disaster", "disaster", "other", "other"]
    result = evaluate(probs, truth, labels, "disaster")
    assert result.confusion == [[2, 1], [1, 1]]
    assert result.precision == 2 / 3 and result.recall == 2 / 3
    assert abs(result.f1 - 2 / 3) < 1e-12
    assert result.accuracy == 3 / 5


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident() -> None:
    y = np.array([0] * 8 + [1] * 2)
    calibrated = np.tile([0.8, 0.2], (10, 1))
    assert expected_calibration_error(calibrated, y) < 1e-9
    overconfident = np.tile([0.99, 0.01], (10, 1))
    assert abs(expected_calibration_error(overconfident, y) - 0.19) < 1e-9


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 2)) * 2
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    y = (rng.random(4000) < p[:, 1]).astype(np.int64)
    assert abs(fit_temperature((true_logits * 3).astype(np.float32), y) - 3.0) < 0.3


def test_gate_compares_each_model_at_its_own_operating_point_and_on_ranking() -> None:
    candidate = {"f1": 0.80, "f2": 0.86, "roc_auc": 0.90, "pr_auc": 0.88, "ece": 0.03}
    production = {"f1": 0.82, "f2": 0.84, "roc_auc": 0.89, "pr_auc": 0.87, "ece": 0.02}

    def gate(prod: dict[str, float] | None, cand: dict[str, float] = candidate, policy: str = "f2") -> GateReport:
        return decide(
            candidate_version="2",
            candidate_metrics=cand,
            production_version="1" if prod else None,
            production_metrics=prod,
            own_checks=[GateCheck("x", True, "")],
            thresholds=GateSettings(max_f1_regression=0.0, max_ece=0.05, max_auc_regression=0.0),
            policy=policy,
        )

    assert gate(production).passed  # better F2 (the recall-first policy) and ranking, though F1 is lower
    by_f1 = gate(production, policy="f1")
    assert not by_f1.passed and "F1 at each model's operating point" in by_f1.summary
    ranking = gate({**production, "pr_auc": 0.90})
    assert not ranking.passed and "ranking not worse than production (PR-AUC)" in ranking.summary
    assert gate({k: v for k, v in production.items() if k not in ("roc_auc", "pr_auc")}).passed  # older production
    miscalibrated = gate(None, {**candidate, "ece": 0.2})
    assert not miscalibrated.passed and "calibration" in miscalibrated.summary


def test_the_gate_verdict_survives_the_version_tags() -> None:
    failed = GateReport(
        "2", "1", {"ece": 0.2}, None, [GateCheck("calibration", False, "ECE 0.2"), GateCheck("x", True, "")]
    )
    tags = failed.to_tags()
    assert tags == {"gate.passed": "false", "gate.summary": "calibration: ECE 0.2"}
    assert GateVerdict.from_tags({**tags, "other": "x"}) == GateVerdict(False, "calibration: ECE 0.2")
    assert GateVerdict.from_tags(GateReport("3", None, {}, None, [GateCheck("x", True, "")]).to_tags()) == GateVerdict(
        True, "all checks passed"
    )
    assert GateVerdict.from_tags({"test.f1": "0.8"}) is None  # never gated: neither passed nor failed
    long = GateReport("2", None, {}, None, [GateCheck("c", False, "x" * 9000)])
    assert len(long.to_tags()["gate.summary"]) <= 4000


def test_behaviour_checks_swap_links_exactly_and_tolerate_a_few_flips() -> None:
    def score(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        # a toy model that reads the normalized text: "fire" means disaster, a trailing link flips it
        out = []
        for text in texts:
            norm = normalize_tweet(text)
            p = 0.9 if "fire" in norm else 0.1
            out.append([p, 1 - p] if not norm.endswith("http") else [1 - p, p])
        return np.array(out, np.float32)

    texts = ["fire at http near @user", "quiet day", "fire again", "nice @user"] * 10
    results = {r.name: r for r in standard_checks(score, texts, ["disaster", "other"], "disaster")}
    assert results["invariance: other URLs and @handles"].passed
    appended = results["robustness: appended URL"]
    assert not appended.passed and appended.score == 0.0 and appended.failures
