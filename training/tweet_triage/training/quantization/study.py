"""The quantization study: every candidate side by side, in one process, on the same tweets — one table, one choice.

Input: a *staging* package folder (tokenizer, package.json, ``graphs/fp32.onnx``). The study builds each candidate
graph into the same folder, measures it against fp32 on the validation tweets (F1, label agreement, max |Δp|),
checks batch invariance, times every graph at every batch size with interleaved passes, and applies the
:class:`~tweet_triage.training.quantization.rule.QuantizationRule`. A candidate that fails to build or run is a row
with its error, never the end of the study.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tweet_triage.errors import UsageError
from tweet_triage.model.hardware import CpuInfo, cpu_info
from tweet_triage.model.package import GraphSpec, PackageMeta, graph_file, with_graphs
from tweet_triage.model.predictor import Predictor
from tweet_triage.training.evaluate import evaluate
from tweet_triage.training.quantization import schemes
from tweet_triage.training.quantization.measure import Tweets, accuracy, invariance, predictor_scorer, speeds
from tweet_triage.training.quantization.rule import Measurement, QuantizationRule, Selection, select
from tweet_triage.training.quantization.sensitivity import LayerError, collect_activations, layer_errors

log = logging.getLogger(__name__)

ALL_CANDIDATES = tuple(c.name for c in schemes.CANDIDATES)
# What `triage train` studies by default: one of each family, the variants that can win on today's CPUs, and the
# references (`--quantization all` adds the rest: percentile/entropy calibration, QDQ, more fused variants).
DEFAULT_CANDIDATES = (
    "fp32",
    "fp32-fused",
    "nbits8",
    "dynamic-int8",
    "static-qop-minmax",
    "static-qdq-minmax-mixed",
    "per-token-int8",
    "per-token-int8-mixed",
    "per-token-int8-smooth",
    "per-token-int8-smooth-fused",
    "per-token-int8-rr-smooth",
)
QUICK_CANDIDATES = ("fp32", "per-token-int8-smooth", "per-token-int8-rr-smooth")


@dataclass(frozen=True)
class StudyConfig:
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    batch_sizes: tuple[int, ...] = (1, 16, 32, 64)
    speed_tweets: int = 1000
    repeats: int = 3
    invariance_tweets: int = 300
    calibration_tweets: int = 2000
    sensitivity_tweets: int = 256
    mixed_fp32_layers: int = 6
    threads: int = 2
    rule: QuantizationRule = field(default_factory=QuantizationRule)

    def __post_init__(self) -> None:
        for name in self.candidates:
            schemes.candidate(name)  # unknown names fail here, before any work
        if self.rule.speed_batch_size not in self.batch_sizes:
            raise ValueError(f"the rule compares speed at batch {self.rule.speed_batch_size}: measure that size")


def quick_study() -> StudyConfig:
    """Small and fast, for the quick training profile (demo, tests)."""
    return StudyConfig(
        candidates=QUICK_CANDIDATES,
        batch_sizes=(1, 32),
        speed_tweets=200,
        repeats=2,
        invariance_tweets=100,
        calibration_tweets=256,
    )


def study_config(candidates: str, *, quick: bool = False) -> StudyConfig:
    """The study a ``--quantization`` value asks for: ``auto``, ``all`` or comma-separated candidate names."""
    base = quick_study() if quick else StudyConfig()
    value = candidates.strip()
    if value == "auto":
        return base
    names = ALL_CANDIDATES if value == "all" else tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise UsageError("--quantization needs 'auto', 'all' or candidate names separated by commas")
    unknown = [n for n in names if n not in ALL_CANDIDATES]
    if unknown:
        raise UsageError(f"unknown quantization candidate(s) {', '.join(unknown)}; known: {', '.join(ALL_CANDIDATES)}")
    ordered = (schemes.REFERENCE, *(n for n in names if n != schemes.REFERENCE))
    return replace(base, candidates=ordered, calibration_tweets=base.calibration_tweets or 512)


@dataclass(frozen=True)
class StudyReport:
    cpu: CpuInfo
    rule: QuantizationRule
    measurements: list[Measurement]
    selection: Selection | None  # None: no candidate satisfies the rule (see ``problem``)
    schemes: dict[str, dict[str, Any]]
    layer_errors: list[LayerError]
    validation_tweets: int
    fp32_f1: float
    seconds: float
    problem: str | None = None

    def measurement(self, name: str) -> Measurement:
        return next(m for m in self.measurements if m.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu.to_dict(),
            "rule": asdict(self.rule),
            "measurements": [m.to_dict() for m in self.measurements],
            "selection": self.selection.to_dict() if self.selection else None,
            "schemes": self.schemes,
            "layer_errors": [asdict(e) for e in self.layer_errors],
            "validation_tweets": self.validation_tweets,
            "fp32_f1": self.fp32_f1,
            "seconds": self.seconds,
            "problem": self.problem,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table_rows(self) -> list[list[str]]:
        """One row per candidate: speeds at each batch size, accuracy against fp32, invariance, verdict."""
        sizes = sorted({b for m in self.measurements for b in m.tweets_per_second})
        chosen = self.selection.chosen if self.selection else None
        shipped = set(self.selection.shipped) if self.selection else set()
        rows = []
        for m in self.measurements:
            why = self.rule.failures(m)
            verdict = (
                "CHOSEN" if m.name == chosen else "shipped" if m.name in shipped else "eligible" if not why else ""
            )
            rows.append(
                [
                    m.name,
                    *(f"{m.tweets_per_second[b]:.0f}" if b in m.tweets_per_second else "-" for b in sizes),
                    _num(m.f1, ".4f"),
                    _num(m.label_agreement, ".2%"),
                    _num(m.max_difference, ".3f"),
                    _num(m.batch_invariance, ".1e"),
                    "yes" if m.portable else "no",
                    verdict or "; ".join(why),
                ]
            )
        return rows

    def table_header(self) -> list[str]:
        sizes = sorted({b for m in self.measurements for b in m.tweets_per_second})
        return [
            "candidate",
            *(f"tweets/s b{b}" for b in sizes),
            "F1",
            "agree",
            "max |Δp|",
            "batch inv.",
            "portable",
            "verdict",
        ]

    def to_markdown(self) -> str:
        header = self.table_header()
        lines = [
            f"# Quantization study on {self.cpu.model}",
            "",
            f"CPU: {self.cpu.describe()}",
            f"Validation tweets: {self.validation_tweets}; fp32 F1 {self.fp32_f1:.4f}; "
            f"study took {self.seconds:.0f} s.",
            f"Rule: batch invariance <= {self.rule.max_invariance:.0e}, F1 within {self.rule.max_f1_drop} of fp32, "
            f"label agreement >= {self.rule.min_agreement:.0%}; fastest at batch {self.rule.speed_batch_size} wins.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in self.table_rows()),
            "",
        ]
        if self.selection:
            lines.append(f"Chosen: **{self.selection.chosen}**; shipped: {', '.join(self.selection.shipped)}.")
        else:
            lines.append(f"No candidate satisfies the rule: {self.problem}")
        return "\n".join(lines) + "\n"


Progress = Callable[[str], None]


def run_study(
    staging: Path,
    *,
    validation: Tweets,
    calibration: Sequence[tuple[str, str | None]],
    config: StudyConfig,
    positive_label: str | None,
    on_step: Progress = log.info,
) -> StudyReport:
    """Build and measure every candidate of ``config`` in ``staging`` (see the module docstring)."""
    started = time.perf_counter()
    reference = Predictor(staging, version="fp32", threads=config.threads, graph=schemes.REFERENCE)
    needs = [schemes.candidate(name) for name in config.candidates]
    calibration_sample = list(calibration)[: config.calibration_tweets]
    feeds: list[dict[str, Any]] = []
    if any(c.needs_calibration or c.needs_sensitivity for c in needs) and calibration_sample:
        token_ids = reference.token_ids([t for t, _ in calibration_sample], [k for _, k in calibration_sample])
        feeds = schemes.calibration_feeds(token_ids, reference.input_names)
    errors: list[LayerError] = []
    if any(c.needs_sensitivity for c in needs) and feeds:
        on_step("measuring each linear layer's int8 error")
        acts = collect_activations(
            staging / graph_file(schemes.REFERENCE), feeds[: max(1, config.sensitivity_tweets // 16)]
        )
        errors = layer_errors(acts)
    inputs = schemes.BuildInputs(
        calibration=feeds, layer_errors=errors, mixed_fp32_layers=config.mixed_fp32_layers, work_dir=staging
    )
    described, failed = _build_all(staging, needs, inputs, on_step)
    _write_staging_meta(staging, described)

    predictors: dict[str, Predictor] = {}
    for name in described:
        try:
            predictors[name] = Predictor(staging, version=name, threads=config.threads, graph=name)
        except Exception as exc:  # a graph ONNX Runtime cannot load is a row with its error
            failed[name] = f"{type(exc).__name__}: {exc}"[:300]
    p32 = predictors[schemes.REFERENCE].score(validation.texts, validation.keywords).probabilities
    f1_32 = evaluate(p32, validation.truth, reference.labels, positive_label).f1
    rows: dict[str, Measurement] = {}
    invariance_set = validation.head(config.invariance_tweets)
    for name, predictor in list(predictors.items()):
        on_step(f"checking {name}: accuracy against fp32, batch invariance")
        try:
            acc = accuracy(predictor, p32, f1_32, validation, positive_label)
            inv = invariance(predictor, invariance_set)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"[:300]
            del predictors[name]
            continue
        rows[name] = Measurement(
            name=name,
            portable=schemes.candidate(name).portable,
            f1=acc.f1,
            f1_drop=acc.f1_drop,
            label_agreement=acc.label_agreement,
            max_difference=acc.max_difference,
            batch_invariance=inv,
        )
    on_step(f"timing {len(predictors)} graphs at batch sizes {', '.join(map(str, config.batch_sizes))}")
    sample = validation.head(config.speed_tweets)
    measured = speeds(
        {name: predictor_scorer(p, sample) for name, p in predictors.items()},
        len(sample),
        config.batch_sizes,
        config.repeats,
    )
    measurements = [
        replace(rows[name], tweets_per_second=measured[name])
        if name in rows
        else Measurement(name, schemes.candidate(name).portable, error=failed.get(name, "not measured"))
        for name in config.candidates
    ]
    selection, problem = None, None
    try:
        selection = select(measurements, config.rule)
    except ValueError as exc:
        problem = str(exc)
    return StudyReport(
        cpu=cpu_info(),
        rule=config.rule,
        measurements=measurements,
        selection=selection,
        schemes=described,
        layer_errors=errors,
        validation_tweets=len(validation),
        fp32_f1=f1_32,
        seconds=time.perf_counter() - started,
        problem=problem,
    )


def _build_all(
    staging: Path, needs: list[schemes.Candidate], inputs: schemes.BuildInputs, on_step: Progress
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    described: dict[str, dict[str, Any]] = {schemes.REFERENCE: {"format": "fp32"}}
    failed: dict[str, str] = {}
    for cand in needs:
        if cand.name == schemes.REFERENCE:
            continue
        if cand.needs_calibration and not inputs.calibration:
            failed[cand.name] = "no calibration tweets"
            continue
        on_step(f"building {cand.name}")
        began = time.perf_counter()
        try:
            info = cand.build(staging / graph_file(schemes.REFERENCE), staging / graph_file(cand.name), inputs)
        except Exception as exc:  # one candidate failing to build must not end the study
            log.warning("candidate %s failed to build: %s", cand.name, exc)
            failed[cand.name] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        described[cand.name] = {**info, "build_seconds": round(time.perf_counter() - began, 1)}
    return described, failed


def _write_staging_meta(staging: Path, described: dict[str, dict[str, Any]]) -> None:
    meta = PackageMeta.read(staging)
    graphs = [
        GraphSpec(name, graph_file(name), scheme, portable=schemes.candidate(name).portable)
        for name, scheme in described.items()
    ]
    with_graphs(meta, graphs, meta.built_on).write(staging)


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
