"""The promotion gate: a candidate must be at least as good as production on the candidate's own test split, and
must have passed its own quality checks.

One owner for what "the gate passed" means: :func:`decide` makes the :class:`GateReport`, :meth:`GateReport.to_tags`
writes its verdict on the registered version, and :meth:`GateVerdict.from_tags` is how everybody else (promotion,
the API, the CLI, rollouts) reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Self

from tweet_triage.settings import GateSettings

PASSED_TAG = "gate.passed"
SUMMARY_TAG = "gate.summary"
TAG_LIMIT = 4000  # MLflow caps a version tag's value at 5000 characters


@dataclass(frozen=True)
class GateVerdict:
    """What a registered version's tags say about its gate: passed or not, and the failed checks in one line."""

    passed: bool
    summary: str

    def to_tags(self) -> dict[str, str]:
        return {PASSED_TAG: str(self.passed).lower(), SUMMARY_TAG: self.summary[:TAG_LIMIT]}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Self | None:
        """None when the version was never gated (registered by hand, or its gate did not finish)."""
        if PASSED_TAG not in tags:
            return None
        return cls(tags[PASSED_TAG] == "true", tags.get(SUMMARY_TAG, ""))


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["name"]), bool(data["passed"]), str(data["detail"]))


@dataclass(frozen=True)
class GateReport:
    candidate_version: str
    production_version: str | None
    candidate_metrics: dict[str, float]
    production_metrics: dict[str, float] | None
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def summary(self) -> str:
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return "all checks passed"
        return "; ".join(f"{c.name}: {c.detail}" for c in failed)

    @property
    def verdict(self) -> GateVerdict:
        return GateVerdict(self.passed, self.summary)

    def to_tags(self) -> dict[str, str]:
        return self.verdict.to_tags()

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "passed": self.passed, "summary": self.summary}, indent=2)

    def to_markdown(self) -> str:
        lines = [
            f"# Gate report: candidate v{self.candidate_version} vs production "
            f"{'v' + self.production_version if self.production_version else '(none)'}",
            "",
            f"**{'PASSED' if self.passed else 'FAILED'}** — {self.summary}",
            "",
            "| metric | candidate | production |",
            "|---|---|---|",
        ]
        for key, value in self.candidate_metrics.items():
            prod = self.production_metrics.get(key) if self.production_metrics else None
            lines.append(f"| {key} | {value:.4f} | {'' if prod is None else f'{prod:.4f}'} |")
        lines += ["", "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {c.name} | {'pass' if c.passed else 'FAIL'} | {c.detail} |" for c in self.checks]
        return "\n".join(lines) + "\n"


def decide(
    *,
    candidate_version: str,
    candidate_metrics: dict[str, float],
    production_version: str | None,
    production_metrics: dict[str, float] | None,
    own_checks: list[GateCheck],
    thresholds: GateSettings,
    policy: str = "f2",
) -> GateReport:
    """Candidate and production each at its own operating point (the F-score the policy maximises, F2 for a
    target-recall policy) and on the threshold-free ROC-AUC and PR-AUC."""
    max_ece, max_f1_regression = thresholds.max_ece, thresholds.max_f1_regression
    max_auc_regression = thresholds.max_auc_regression
    checks = list(own_checks)
    checks.append(
        GateCheck(
            "calibration",
            candidate_metrics["ece"] <= max_ece,
            f"ECE {candidate_metrics['ece']:.4f} (max {max_ece})",
        )
    )
    if production_metrics is not None:
        key = "f1" if policy == "f1" else "f2"
        delta = candidate_metrics[key] - production_metrics.get(key, float("-inf"))
        checks.append(
            GateCheck(
                "not worse than production",
                delta >= -max_f1_regression,
                f"{key.upper()} at each model's operating point {candidate_metrics[key]:.4f} vs "
                f"{production_metrics.get(key, float('nan')):.4f} (Δ {delta:+.4f}, allowed −{max_f1_regression})",
            )
        )
        for auc in ("roc_auc", "pr_auc"):
            if auc not in production_metrics or production_metrics[auc] != production_metrics[auc]:  # NaN
                continue
            delta = candidate_metrics[auc] - production_metrics[auc]
            checks.append(
                GateCheck(
                    f"ranking not worse than production ({auc.replace('_', '-').upper()})",
                    delta >= -max_auc_regression,
                    f"{candidate_metrics[auc]:.4f} vs {production_metrics[auc]:.4f} (Δ {delta:+.4f}, "
                    f"allowed −{max_auc_regression})",
                )
            )
    return GateReport(candidate_version, production_version, candidate_metrics, production_metrics, checks)
