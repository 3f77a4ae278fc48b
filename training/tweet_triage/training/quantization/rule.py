"""The rule that decides which graphs a model package ships, from the study's measurements.

A graph is *eligible* when it is batch-invariant (max |p(alone) − p(in a batch)| <= ``max_invariance``), its F1 is
at most ``max_f1_drop`` below fp32's, and its labels agree with fp32's on at least ``min_agreement`` of the
validation tweets. Among eligible graphs the fastest here (tweets/s at the serving batch size) is chosen. If the
chosen graph is not *portable* (full-range u8×s8 int8 can saturate in the AVX2 kernel of CPUs without VNNI), the
fastest eligible portable graph ships beside it, so a host without VNNI still has a graph that reproduces its
recorded outputs; the predictor picks between them by a self-check on its own CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Measurement:
    """What the study measured about one candidate graph (None where it could not be measured)."""

    name: str
    portable: bool
    tweets_per_second: dict[int, float] = field(default_factory=dict)  # batch size -> median tweets/s
    f1: float | None = None
    f1_drop: float | None = None  # fp32 F1 − this F1
    label_agreement: float | None = None  # share of validation tweets labelled as fp32 labels them
    max_difference: float | None = None  # max |p − p_fp32| over tweets and classes
    batch_invariance: float | None = None  # max |p(alone) − p(in a batch)|
    error: str | None = None  # the candidate failed to build or run

    def speed(self, batch_size: int) -> float:
        return self.tweets_per_second.get(batch_size, 0.0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tweets_per_second"] = {str(k): v for k, v in self.tweets_per_second.items()}
        return data


@dataclass(frozen=True)
class QuantizationRule:
    max_invariance: float = 1e-4
    max_f1_drop: float = 0.005
    min_agreement: float = 0.99
    speed_batch_size: int = 32  # the predictor's batch size: what serving runs at

    def failures(self, m: Measurement) -> list[str]:
        """Why ``m`` is not eligible (empty when it is)."""
        if m.error is not None:
            return [f"failed: {m.error}"]
        problems = []
        if m.batch_invariance is None or m.batch_invariance > self.max_invariance:
            problems.append(f"batch invariance {_fmt(m.batch_invariance, '.1e')} > {self.max_invariance:.0e}")
        if m.f1_drop is None or m.f1_drop > self.max_f1_drop:
            problems.append(f"F1 {_fmt(m.f1_drop, '+.4f', negate=True)} vs fp32 (allowed −{self.max_f1_drop})")
        if m.label_agreement is None or m.label_agreement < self.min_agreement:
            problems.append(f"label agreement {_fmt(m.label_agreement, '.2%')} < {self.min_agreement:.0%}")
        if m.speed(self.speed_batch_size) <= 0:
            problems.append(f"no speed measured at batch {self.speed_batch_size}")
        return problems


@dataclass(frozen=True)
class Selection:
    chosen: str
    shipped: list[str]  # chosen first, then the portable fallback if any
    eligible: list[str]  # fastest first
    reasons: dict[str, list[str]]  # candidate -> why it is not eligible

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NoEligibleGraph(ValueError):
    """No candidate satisfies the rule (the caller decides whether that fails the pipeline)."""


def select(measurements: Sequence[Measurement], rule: QuantizationRule) -> Selection:
    """Apply ``rule``; raises :class:`NoEligibleGraph` when nothing is eligible."""
    reasons = {m.name: rule.failures(m) for m in measurements}
    eligible = sorted(
        (m for m in measurements if not reasons[m.name]), key=lambda m: m.speed(rule.speed_batch_size), reverse=True
    )
    if not eligible:
        summary = "; ".join(f"{name}: {', '.join(why)}" for name, why in reasons.items())
        raise NoEligibleGraph(f"no quantization candidate satisfies the rule: {summary}")
    chosen = eligible[0]
    shipped = [chosen.name]
    if not chosen.portable:
        portable = next((m for m in eligible if m.portable), None)
        if portable is not None:
            shipped.append(portable.name)
    return Selection(
        chosen=chosen.name,
        shipped=shipped,
        eligible=[m.name for m in eligible],
        reasons={name: why for name, why in reasons.items() if why},
    )


def _fmt(value: float | None, spec: str, *, negate: bool = False) -> str:
    if value is None:
        return "unmeasured"
    return format(-value if negate else value, spec)
