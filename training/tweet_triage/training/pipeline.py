"""The training pipeline, one MLflow run from prepared data to a registered `candidate`:

fine-tune -> ONNX export -> quantization study (every candidate graph side by side, the rule picks what ships)
-> every shipped graph against fp32 on the test split, batch invariance -> behavioural checks -> drift reference
-> register (alias candidate) -> gate against production.

The pipeline fails (and the run is marked FAILED) when no graph satisfies the quantization rule, or a shipped graph
breaks it on the test split; a gate failure still registers the candidate, but promotion will refuse it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import ModelError
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.operating_point import DEFAULT_POLICY, OperatingPoint, Policy
from tweet_triage.model.package import DriftReference, PackageMeta
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, ModelVersion, Registry
from tweet_triage.settings import Settings
from tweet_triage.training import behaviour, error_analysis, lineage, plots
from tweet_triage.training.evaluate import Evaluation, evaluate
from tweet_triage.training.finetune import EpochRecord, FineTuned, TrainConfig, fine_tune, subsample
from tweet_triage.training.gate import GateCheck, GateReport, decide
from tweet_triage.training.packaging import BuiltPackages, ChosenPoint, build_packages, set_operating_point
from tweet_triage.training.prepare import Example, PreparedDataset
from tweet_triage.training.quality import BatchInvarianceReport, GraphChecks, QuantizationReport, check_graphs
from tweet_triage.training.quantization.measure import Tweets
from tweet_triage.training.quantization.rule import NoEligibleGraph
from tweet_triage.training.quantization.schemes import REFERENCE
from tweet_triage.training.quantization.study import StudyConfig, StudyReport

log = logging.getLogger(__name__)

HF_MODEL_ARTIFACT = "hf_model"
LANGUAGE_SAMPLE = 2000  # training tweets the training languages are identified on


@dataclass(frozen=True)
class PipelineConfig:
    train: TrainConfig = field(default_factory=TrainConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    drift_reference_size: int = 1000
    max_f1_regression: float = 0.0
    max_ece: float = 0.05
    max_auc_regression: float = 0.005  # ROC-AUC and PR-AUC (threshold-free); seeds alone move them ~0.003
    operating_point: str = DEFAULT_POLICY  # see tweet_triage.model.operating_point
    trigger: str = "manual"


@dataclass(frozen=True)
class PipelineResult:
    run_id: str
    version: ModelVersion
    test: Evaluation
    quantization: QuantizationReport  # the graph chosen on this host
    invariance: BatchInvarianceReport
    gate: GateReport
    behaviour: list[behaviour.CheckResult]
    fine_tuned: FineTuned
    study: StudyReport
    shipped: list[GraphChecks]  # every shipped graph on the test split


class PipelineFailed(ModelError):
    """A hard quality requirement of the model itself failed; nothing was registered."""


def run_pipeline(
    settings: Settings,
    dataset: PreparedDataset,
    config: PipelineConfig,
    *,
    registry: Registry | None = None,
    progress: bool = True,
    on_stage: Callable[[str], None] = log.info,
) -> PipelineResult:
    registry = registry or Registry(settings)
    run = _TrainingRun(registry, dataset, config, progress=progress, on_stage=on_stage)
    try:
        with tempfile.TemporaryDirectory(prefix="tweet-triage-train-") as tmp:
            result = run.execute(Path(tmp))
    except BaseException:
        registry.client.set_terminated(run.run_id, status="FAILED")
        raise
    registry.client.set_terminated(run.run_id, status="FINISHED")
    return result


class _TrainingRun:
    """One MLflow run; each stage is a method so the sequence in :meth:`execute` reads like the pipeline."""

    def __init__(
        self,
        registry: Registry,
        dataset: PreparedDataset,
        config: PipelineConfig,
        *,
        progress: bool,
        on_stage: Callable[[str], None],
    ) -> None:
        self.registry = registry
        self.client = registry.client
        self.dataset = dataset
        self.config = config
        self.progress = progress
        self.on_stage = on_stage
        self.commit = lineage.git_commit()
        run = self.client.create_run(
            _experiment(self.client, registry.experiment),
            tags={
                "mlflow.runName": f"train {dataset.version} seed {config.train.seed}",
                "dataset.version": dataset.version,
                "git.commit": self.commit,
                "tweet_triage.version": lineage.package_version(),
                "trigger": config.trigger,
            },
        )
        self.run_id: str = run.info.run_id
        test = subsample(dataset.splits["test"], config.train.max_samples, config.train.seed)
        self.texts = [e.text for e in test]
        self.keywords = [e.keyword for e in test]
        self.truth = [e.label for e in test]

    def execute(self, work: Path) -> PipelineResult:
        self._log_inputs()
        self.on_stage("fine-tuning")
        tuned = self._fine_tune(work / "hf")
        self.on_stage("exporting to ONNX and studying quantization candidates")
        built = self._build_packages(tuned, work)
        self.on_stage(f"choosing the operating point ({self.config.operating_point}) on the validation split")
        built = replace(built, meta=self._operating_point(built))
        self.on_stage("evaluating every shipped graph against fp32 on the test split")
        shipped, checks, int8 = self._evaluate(built)
        quant, invariance = shipped[0]
        self._log_quality(shipped, checks, int8, tuned, work / "figures")
        self._require(shipped)
        self.on_stage("building the drift reference")
        drift_reference(int8, self.dataset, self.config.drift_reference_size, self.config.train.seed).save(int8.folder)
        self.on_stage("registering the candidate")
        version = self._register(int8.folder, quant, built.study)
        self.on_stage("gating against production")
        gate = self._gate(version, shipped, checks)
        return PipelineResult(
            self.run_id,
            self.registry.get(version.version),
            quant.int8,
            quant,
            invariance,
            gate,
            checks,
            tuned,
            built.study,
            shipped,
        )

    # ---- stages ---------------------------------------------------------------------------------------------------

    def _log_inputs(self) -> None:
        params = {
            **asdict(self.config.train),
            "quantization_candidates": ",".join(self.config.study.candidates),
            "quantization_rule": json.dumps(asdict(self.config.study.rule)),
            "dataset_version": self.dataset.version,
            "labels": ",".join(self.dataset.labels),
        }
        for key, value in params.items():
            self.client.log_param(self.run_id, key, "" if value is None else value)
        report = self.dataset.report
        self.client.log_text(self.run_id, report.to_markdown(self.dataset.version), "data/report.md")
        self.client.log_dict(self.run_id, asdict(report), "data/report.json")
        for split, counts in report.label_counts.items():
            self.client.log_metric(self.run_id, f"data.{split}.rows", float(sum(counts.values())))
        self.client.log_metric(self.run_id, "data.dropped_rows", float(len(report.dropped)))
        env = lineage.environment()
        self.client.log_text(self.run_id, env.pop("requirements") + "\n", "environment/requirements.txt")
        self.client.log_dict(self.run_id, env, "environment/runtime.json")

    def _fine_tune(self, out_dir: Path) -> FineTuned:
        def on_epoch(record: EpochRecord) -> None:
            self.client.log_metric(self.run_id, "train.loss", record.train_loss, step=record.epoch)
            self.client.log_metric(self.run_id, "validation.f1", record.validation_f1, step=record.epoch)
            self.client.log_metric(self.run_id, "validation.loss", record.validation_loss, step=record.epoch)

        tuned = fine_tune(self.dataset, self.config.train, out_dir, progress=self.progress, on_epoch=on_epoch)
        # The fp32 PyTorch weights stay with the run: reproducibility, and the baseline `make bench-model` compares to.
        self.client.log_artifacts(self.run_id, str(tuned.model_dir), HF_MODEL_ARTIFACT)
        self.client.log_metric(self.run_id, "train.seconds", tuned.train_seconds)
        self.client.log_metric(self.run_id, "train.samples_per_second", tuned.samples_per_second)
        self.client.log_metric(self.run_id, "calibration.temperature", tuned.temperature)
        return tuned

    def _build_packages(self, tuned: FineTuned, work: Path) -> BuiltPackages:
        train_cfg = self.config.train
        meta = PackageMeta(
            labels=self.dataset.labels,
            positive_label=self.dataset.positive_label,
            max_length=train_cfg.max_length,
            use_keyword=train_cfg.use_keyword,
            temperature=tuned.temperature,
            lineage={"dataset_version": self.dataset.version, "run_id": self.run_id, "git_commit": self.commit},
        )
        try:
            built = build_packages(
                tuned.model_dir,
                work,
                meta,
                validation=study_tweets(self.dataset, train_cfg.max_samples, train_cfg.seed),
                calibration=calibration_tweets(self.dataset, self.config.study.calibration_tweets, train_cfg.seed),
                config=self.config.study,
                on_step=self.on_stage,
            )
        except NoEligibleGraph as exc:
            raise PipelineFailed(f"{exc}; not registered") from exc
        log_study(self.client, self.run_id, built.study)
        return built

    def _operating_point(self, built: BuiltPackages) -> PackageMeta:
        cfg = self.config
        validation = study_tweets(self.dataset, cfg.train.max_samples, cfg.train.seed)
        chosen = package_operating_point(built.package, self.dataset, cfg.operating_point, cfg.train, validation)
        meta = chosen.meta
        self.client.log_param(self.run_id, "operating_point", cfg.operating_point)
        self.client.log_param(self.run_id, "languages", ",".join(meta.languages))
        point = meta.point
        if point is not None and chosen.validation_probabilities is not None:
            self.client.log_dict(self.run_id, point.to_dict(), "evaluation/operating_point.json")
            for key in ("threshold", "precision", "recall", "f1", "f2"):
                self.client.log_metric(self.run_id, f"operating_point.{key}", float(getattr(point, key)))
            self._log_errors(chosen.validation_probabilities, validation, point)
        return meta

    def _log_errors(self, probabilities: npt.NDArray[np.float32], validation: Tweets, point: OperatingPoint) -> None:
        """The error analysis and the precision-recall curve of the validation split, at the operating point."""
        labels = self.dataset.labels
        analysis = error_analysis.analyse(
            probabilities, validation.texts, validation.keywords, validation.truth, labels, point.positive_label, point
        )
        self.client.log_text(self.run_id, analysis.to_markdown(), "evaluation/errors.md")
        self.client.log_dict(self.run_id, analysis.to_dict(), "evaluation/errors.json")
        with tempfile.TemporaryDirectory() as tmp:
            pos = labels.index(point.positive_label)
            truth = np.array([t == point.positive_label for t in validation.truth])
            figure = plots.precision_recall(
                probabilities[:, pos], truth, point, Path(tmp) / "precision_recall.png", "validation split"
            )
            self.client.log_artifact(self.run_id, str(figure), "figures")

    def _evaluate(self, built: BuiltPackages) -> tuple[list[GraphChecks], list[behaviour.CheckResult], Predictor]:
        """The rule again, on the test split, for every graph the package ships (any of them may serve)."""
        ds = self.dataset
        threads = self.config.train.threads
        fp32 = Predictor(built.staging, version="fp32", graph=REFERENCE, threads=threads)
        shipped = check_graphs(
            fp32,
            built.package,
            built.meta.graph_names,
            self.texts,
            self.keywords,
            self.truth,
            ds.positive_label,
            self.config.study.rule,
            threads=threads,
        )
        chosen = Predictor(built.package, version="candidate", graph=built.meta.graph_names[0], threads=threads)
        checks = behaviour.standard_checks(
            lambda batch: chosen.score(list(batch)).probabilities, self.texts[:300], ds.labels, ds.positive_label
        )
        return shipped, checks, chosen

    def _require(self, shipped: list[GraphChecks]) -> None:
        for quant, invariance in shipped:
            if not quant.passed:
                raise PipelineFailed(
                    f"graph {quant.graph}: F1 {quant.int8.f1:.4f} is {quant.f1_drop:.4f} below fp32 "
                    f"{quant.fp32.f1:.4f} "
                    f"(allowed {quant.max_allowed_f1_drop}), label agreement {quant.label_agreement:.2%} (at least "
                    f"{quant.min_label_agreement:.0%}) on the test split; not registered"
                )
            if not invariance.passed:
                raise PipelineFailed(
                    f"graph {invariance.graph}: batch invariance broken: max |p(batch) − p(alone)| = "
                    f"{invariance.max_difference:.2e} > {invariance.tolerance:.0e}; not registered"
                )

    def _register(self, package: Path, quant: QuantizationReport, study: StudyReport) -> ModelVersion:
        selection = study.selection
        tags = {
            "dataset.version": self.dataset.version,
            "git.commit": self.commit,
            "run_id": self.run_id,
            "quantization": quant.graph,
            "quantization.graphs": ",".join(selection.shipped if selection else [quant.graph]),
            "quantization.cpu": study.cpu.describe()[:4000],
            "test.f1": f"{quant.int8.f1:.4f}",
            "test.ece": f"{quant.int8.ece:.4f}",
        }
        return self.registry.register(self.run_id, package, tags, description=f"trained on {self.dataset.version}")

    def _gate(
        self,
        version: ModelVersion,
        shipped: list[GraphChecks],
        checks: list[behaviour.CheckResult],
    ) -> GateReport:
        quant = shipped[0][0]
        production = self.registry.find(PRODUCTION)
        production_metrics = None
        if production is not None:
            prod = Predictor(
                self.registry.download(production), version=production.version, threads=self.config.train.threads
            )
            if prod.labels != self.dataset.labels:
                raise ModelError(
                    f"production v{production.version} has labels {prod.labels}, the candidate {self.dataset.labels}"
                )
            probabilities = prod.score(self.texts, self.keywords).probabilities
            production_metrics = evaluate(  # production at its own operating point
                probabilities, self.truth, prod.labels, self.dataset.positive_label, prod.operating_point
            ).headline()
        own = [
            *quantization_checks(shipped),
            *(GateCheck(c.name, c.passed, f"{c.score:.3f} (min {c.threshold})") for c in checks),
        ]
        gate = decide(
            candidate_version=version.version,
            candidate_metrics=quant.int8.headline(),
            production_version=production.version if production else None,
            production_metrics=production_metrics,
            own_checks=own,
            max_f1_regression=self.config.max_f1_regression,
            max_ece=self.config.max_ece,
            max_auc_regression=self.config.max_auc_regression,
            policy=self.config.operating_point,
        )
        self.client.log_text(self.run_id, gate.to_json(), "gate/gate_report.json")
        self.client.log_text(self.run_id, gate.to_markdown(), "gate/gate_report.md")
        self.registry.set_tags(
            version.version, {"gate.passed": str(gate.passed).lower(), "gate.summary": gate.summary[:4000]}
        )
        self.client.log_metric(self.run_id, "gate.passed", float(gate.passed))
        return gate

    def _log_quality(
        self,
        shipped: list[GraphChecks],
        checks: list[behaviour.CheckResult],
        int8: Predictor,
        tuned: FineTuned,
        figures: Path,
    ) -> None:
        client, run_id = self.client, self.run_id
        quant, invariance = shipped[0]
        for prefix, ev in (("test", quant.int8), ("test.fp32", quant.fp32)):
            for key, value in ev.headline().items():
                client.log_metric(run_id, f"{prefix}.{key}", value)
            for label, per in ev.per_class.items():
                client.log_metric(run_id, f"{prefix}.class.{label}.f1", per.f1)
        client.log_metric(run_id, "int8.f1_drop", quant.f1_drop)
        client.log_metric(run_id, "int8.label_agreement", quant.label_agreement)
        client.log_metric(run_id, "int8.max_probability_difference", quant.max_probability_difference)
        client.log_metric(run_id, "batch_invariance.max_difference", invariance.max_difference)
        for graph_quant, graph_invariance in shipped:
            slug = _slug(graph_quant.graph)
            client.log_metric(run_id, f"graph.{slug}.test.f1", graph_quant.int8.f1)
            client.log_metric(run_id, f"graph.{slug}.label_agreement", graph_quant.label_agreement)
            client.log_metric(run_id, f"graph.{slug}.batch_invariance", graph_invariance.max_difference)
        for check in checks:
            client.log_metric(run_id, f"behaviour.{_slug(check.name)}", check.score)
        client.log_dict(
            run_id,
            {
                "int8": quant.int8.to_dict(),
                "fp32": quant.fp32.to_dict(),
                "graphs": [{"quantization": asdict(q), "batch_invariance": asdict(i)} for q, i in shipped],
            },
            "evaluation/test.json",
        )
        client.log_dict(run_id, {"checks": [asdict(c) for c in checks]}, "evaluation/behaviour.json")
        client.log_text(run_id, json.dumps(asdict(invariance), indent=2), "evaluation/batch_invariance.json")
        figures.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        probs = int8.score(self.texts, self.keywords).probabilities
        client.log_metric(run_id, "int8.tweets_per_second", len(self.texts) / max(time.perf_counter() - started, 1e-9))
        y = np.array([self.dataset.labels.index(t) for t in self.truth])
        plots.reliability_diagram(probs, y, quant.int8.ece, figures / "reliability.png")
        plots.confusion_matrix(
            quant.int8.confusion, self.dataset.labels, figures / "confusion_matrix.png", f"{quant.graph}, test split"
        )
        if tuned.history:
            plots.learning_curves(tuned.history, figures / "learning_curves.png")
        client.log_artifacts(run_id, str(figures), "figures")


def package_operating_point(
    package: Path, dataset: PreparedDataset, policy: str, train: TrainConfig, validation: Tweets | None = None
) -> ChosenPoint:
    """Choose and record the package's operating point on the validation tweets the study used (``validation``, when
    the caller has them already), and its training languages (`triage train` and the Azure ML export stage both
    call this)."""
    if validation is None:
        validation = study_tweets(dataset, train.max_samples, train.seed)
    train_texts = [e.text for e in subsample(dataset.splits["train"], LANGUAGE_SAMPLE, train.seed)]
    return set_operating_point(package, validation, Policy.parse(policy), train_texts, threads=train.threads)


def drift_reference(predictor: Predictor, dataset: PreparedDataset, size: int, seed: int) -> DriftReference:
    """The model's own embeddings and probabilities on held-out (validation) tweets, topped up from train."""
    pool: list[Example] = list(dataset.splits["validation"])
    if len(pool) < size:
        rng = np.random.default_rng(seed)
        extra = dataset.splits["train"]
        pool += [extra[i] for i in rng.permutation(len(extra))[: size - len(pool)]]
    pool = pool[:size]
    scored = predictor.score([e.text for e in pool], [e.keyword for e in pool])
    return DriftReference(scored.embeddings, scored.probabilities)


def approval_log(registry: Registry) -> ApprovalLog:
    return ApprovalLog(registry.client, registry.name)


# ---- steps ------------------------------------------------------------------------------------------------------


def study_tweets(dataset: PreparedDataset, limit: int | None, seed: int) -> Tweets:
    """The validation tweets the quantization study measures candidates on (never test tweets)."""
    sample = subsample(dataset.splits["validation"], limit, seed)
    return Tweets([e.text for e in sample], [e.keyword for e in sample], [e.label for e in sample])


def calibration_tweets(dataset: PreparedDataset, limit: int, seed: int) -> list[tuple[str, str | None]]:
    """Static calibration and smoothing come from training tweets only (never validation or test)."""
    return [(e.text, e.keyword) for e in subsample(dataset.splits["train"], limit, seed)] if limit else []


def quantization_checks(shipped: list[GraphChecks]) -> list[GateCheck]:
    """The quantization rule on the test split, one pair of gate checks per shipped graph."""
    checks = []
    for quant, invariance in shipped:
        checks.append(
            GateCheck(
                f"{quant.graph} vs fp32",
                quant.passed,
                f"F1 drop {quant.f1_drop:+.4f} (max {quant.max_allowed_f1_drop}), label agreement "
                f"{quant.label_agreement:.4f} (min {quant.min_label_agreement})",
            )
        )
        checks.append(
            GateCheck(
                f"{invariance.graph} batch invariance",
                invariance.passed,
                f"max diff {invariance.max_difference:.2e} (max {invariance.tolerance:.0e})",
            )
        )
    return checks


def log_study(client: Any, run_id: str, study: StudyReport) -> None:
    """The study's table, CPU and choice on the MLflow run (artifacts, tags and one metric per cell)."""
    client.log_text(run_id, study.to_markdown(), "quantization/study.md")
    client.log_text(run_id, study.to_json(), "quantization/study.json")
    client.set_tag(run_id, "quantization.cpu", study.cpu.describe()[:4000])
    client.set_tag(run_id, "quantization.cpu_model", study.cpu.model)
    client.set_tag(run_id, "quantization.cpu_flags", " ".join(study.cpu.flags))
    if study.selection is not None:
        client.set_tag(run_id, "quantization.chosen", study.selection.chosen)
        client.set_tag(run_id, "quantization.shipped", ",".join(study.selection.shipped))
    client.log_metric(run_id, "quantization.study_seconds", study.seconds)
    for m in study.measurements:
        slug = _slug(m.name)
        for size, speed in m.tweets_per_second.items():
            client.log_metric(run_id, f"quantization.{slug}.tweets_per_second.b{size}", speed)
        for key in ("f1", "label_agreement", "max_difference", "batch_invariance"):
            value = getattr(m, key)
            if value is not None:
                client.log_metric(run_id, f"quantization.{slug}.{key}", value)


# ---- MLflow logging ---------------------------------------------------------------------------------------------


def _experiment(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return str(found.experiment_id) if found is not None else str(client.create_experiment(name))


def _slug(name: str) -> str:
    return "_".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())
