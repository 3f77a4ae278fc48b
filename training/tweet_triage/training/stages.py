"""The training pipeline's stages: folders in, folders out, the same functions for both ways of running them.

fine-tune -> export (ONNX, quantization study, operating point) -> evaluate (every shipped graph against fp32 on the
test split, behaviour) -> register (one MLflow run, the `candidate` version, the gate against production)

`triage train` (:func:`tweet_triage.training.pipeline.run_pipeline`) calls them one after the other in a temporary
folder; the Azure ML pipeline runs each as its own job (``triage azure stage ...``) and hands the folders on. Each
stage leaves what the run should show in its folder (:class:`~tweet_triage.training.stage_record.StageRecord`) and the
register stage reads every input back from the folders, so both paths give the same package, checks and tags by
construction (``tests/integration/deploy/test_stages.py`` checks it).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import ModelError
from tweet_triage.model.gate import GateCheck, GateReport, decide
from tweet_triage.model.operating_point import OperatingPoint, Policy
from tweet_triage.model.package import DriftReference, PackageMeta, graph_file
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, ModelVersion, Registry
from tweet_triage.settings import GateSettings
from tweet_triage.training import behaviour, error_analysis, export, lineage, plots
from tweet_triage.training.evaluate import HEADLINE_METRICS, evaluate
from tweet_triage.training.finetune import EpochRecord, FineTuned, TrainConfig, fine_tune, subsample
from tweet_triage.training.packaging import ChosenPoint, build_packages, set_operating_point, staging_package
from tweet_triage.training.prepare import Example, PreparedDataset
from tweet_triage.training.quality import BatchInvarianceReport, GraphChecks, QuantizationReport, check_graphs
from tweet_triage.training.quantization.measure import Tweets
from tweet_triage.training.quantization.rule import NoEligibleGraph, QuantizationRule
from tweet_triage.training.quantization.schemes import REFERENCE
from tweet_triage.training.quantization.study import StudyConfig, StudyReport
from tweet_triage.training.run_recorder import MlflowRunRecorder, RunRecorder
from tweet_triage.training.stage_record import StageRecord

log = logging.getLogger(__name__)

HF_MODEL_ARTIFACT = "hf_model"  # the fp32 PyTorch weights on the run: reproducibility, and bench-model's baseline
HF_DIR = "hf"
FINE_TUNED_FILE = "fine_tuned.json"
RULE_FILE = "quantization_rule.json"
EVALUATION_FILE = "evaluation.json"
FP32_DIR, INT8_DIR = "fp32", "int8"
LANGUAGE_SAMPLE = 2000  # training tweets the training languages are identified on
BEHAVIOUR_TWEETS = 300


class PipelineFailed(ModelError):
    """A hard quality requirement of the model itself failed; nothing was registered."""


class HeldOutCheckFailed(PipelineFailed):
    """A shipped graph, chosen on the validation split, breaks the quantization rule or batch invariance on the
    test split. The fp32 reference graph cannot (it is what the rule compares with)."""


@dataclass(frozen=True)
class StageFolders:
    """Where each stage writes (and the next one reads)."""

    model: Path
    packages: Path
    evaluation: Path

    @classmethod
    def under(cls, work: Path) -> StageFolders:
        return cls(work / "model", work / "packages", work / "evaluation")


# ---- fine-tune ----------------------------------------------------------------------------------------------------


def fine_tune_stage(dataset: PreparedDataset, config: TrainConfig, out: Path, *, progress: bool) -> FineTuned:
    """Fine-tune the base model into ``out/hf``; writes its temperature, history and configuration beside it."""
    tuned = fine_tune(dataset, config, out / HF_DIR, progress=progress)
    (out / FINE_TUNED_FILE).write_text(
        json.dumps(
            {
                "temperature": tuned.temperature,
                "train_config": asdict(config),
                "history": [asdict(h) for h in tuned.history],
                "train_seconds": tuned.train_seconds,
                "samples_per_second": tuned.samples_per_second,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    record = StageRecord(out)
    for key, value in asdict(config).items():
        record.param(key, value)
    for epoch in tuned.history:
        record.metric("train.loss", epoch.train_loss, epoch.epoch)
        record.metric("validation.f1", epoch.validation_f1, epoch.epoch)
        record.metric("validation.loss", epoch.validation_loss, epoch.epoch)
    record.metric("train.seconds", tuned.train_seconds)
    record.metric("train.samples_per_second", tuned.samples_per_second)
    record.metric("calibration.temperature", tuned.temperature)
    record.file(out / HF_DIR, HF_MODEL_ARTIFACT)
    record.save()
    return tuned


def read_fine_tuned(model: Path) -> tuple[FineTuned, TrainConfig]:
    """What :func:`fine_tune_stage` wrote to ``model``."""
    info = json.loads((model / FINE_TUNED_FILE).read_text(encoding="utf-8"))
    tuned = FineTuned(
        model / HF_DIR,
        float(info["temperature"]),
        [EpochRecord(**h) for h in info.get("history", [])],
        float(info.get("train_seconds", 0.0)),
        float(info.get("samples_per_second", 0.0)),
    )
    return tuned, TrainConfig(**info["train_config"])


# ---- export -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    fp32: Path  # the fp32 reference package the shipped graphs are checked against
    package: Path  # what ships: the selected graphs, the study, the operating point
    study: StudyReport


def export_stage(
    dataset: PreparedDataset,
    model: Path,
    study: StudyConfig,
    policy: str,
    out: Path,
    *,
    on_step: Callable[[str], None] = log.info,
) -> Exported:
    """Export to ONNX, study every quantization candidate on this CPU, assemble the package that ships and choose
    its operating point on the validation split. Raises :class:`PipelineFailed` when no graph satisfies the rule."""
    tuned, train = read_fine_tuned(model)
    meta = PackageMeta(
        labels=dataset.labels,
        positive_label=dataset.positive_label,
        max_length=train.max_length,
        use_keyword=train.use_keyword,
        temperature=tuned.temperature,
        lineage={"dataset_version": dataset.version},  # the run id and commit: added by the register stage
    )
    validation = study_tweets(dataset, train.max_samples, train.seed)
    work = out / "_work"
    try:
        built = build_packages(
            tuned.model_dir,
            work,
            meta,
            validation=validation,
            calibration=calibration_tweets(dataset, study.calibration_tweets, train.seed),
            config=study,
            on_step=on_step,
        )
    except NoEligibleGraph as exc:
        raise PipelineFailed(f"{exc}; not registered") from exc
    on_step(f"choosing the operating point ({policy}) on the validation split")
    chosen = package_operating_point(built.package, dataset, policy, train, validation)
    staging_package(out / FP32_DIR, built.staging / graph_file(REFERENCE), tuned.model_dir, built.meta)
    export.remove_tree(out / INT8_DIR)
    built.package.rename(out / INT8_DIR)
    export.remove_tree(work)
    (out / RULE_FILE).write_text(json.dumps(asdict(study.rule), indent=2), encoding="utf-8")

    record = StageRecord(out)
    record.param("quantization_candidates", ",".join(study.candidates))
    record.param("quantization_rule", json.dumps(asdict(study.rule)))
    _record_study(record, built.study)
    _record_operating_point(record, dataset, policy, chosen, validation, out / "figures")
    record.save()
    return Exported(out / FP32_DIR, out / INT8_DIR, built.study)


def _record_study(record: StageRecord, study: StudyReport) -> None:
    """The study's table, CPU and choice (artifacts, tags and one metric per cell)."""
    record.text("quantization/study.md", study.to_markdown())
    record.text("quantization/study.json", study.to_json())
    record.tag("quantization.cpu", study.cpu.describe()[:4000])
    record.tag("quantization.cpu_model", study.cpu.model)
    record.tag("quantization.cpu_flags", " ".join(study.cpu.flags))
    if study.selection is not None:
        record.tag("quantization.chosen", study.selection.chosen)
        record.tag("quantization.shipped", ",".join(study.selection.shipped))
    record.metric("quantization.study_seconds", study.seconds)
    for m in study.measurements:
        name = slug(m.name)
        for size, speed in m.tweets_per_second.items():
            record.metric(f"quantization.{name}.tweets_per_second.b{size}", speed)
        for key in ("f1", "label_agreement", "max_difference", "batch_invariance"):
            value = getattr(m, key)
            if value is not None:
                record.metric(f"quantization.{name}.{key}", value)


def _record_operating_point(
    record: StageRecord, dataset: PreparedDataset, policy: str, chosen: ChosenPoint, validation: Tweets, figures: Path
) -> None:
    """The operating point, and the error analysis and precision-recall curve of the validation split at it."""
    meta = chosen.meta
    record.param("operating_point", policy)
    record.param("languages", ",".join(meta.languages))
    point = meta.point
    if point is None or chosen.validation_probabilities is None:
        return
    record.json("evaluation/operating_point.json", point.to_dict())
    for key in ("threshold", "precision", "recall", "f1", "f2"):
        record.metric(f"operating_point.{key}", float(getattr(point, key)))
    _record_errors(record, dataset, chosen.validation_probabilities, validation, point, figures)


def _record_errors(
    record: StageRecord,
    dataset: PreparedDataset,
    probabilities: npt.NDArray[np.float32],
    validation: Tweets,
    point: OperatingPoint,
    figures: Path,
) -> None:
    labels = dataset.labels
    analysis = error_analysis.analyse(
        probabilities, validation.texts, validation.keywords, validation.truth, labels, point.positive_label, point
    )
    record.text("evaluation/errors.md", analysis.to_markdown())
    record.json("evaluation/errors.json", analysis.to_dict())
    figures.mkdir(parents=True, exist_ok=True)
    pos = labels.index(point.positive_label)
    truth = np.array([t == point.positive_label for t in validation.truth])
    figure = plots.precision_recall(
        probabilities[:, pos], truth, point, figures / "precision_recall.png", "validation split"
    )
    record.file(figure, "figures")


# ---- evaluate -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluated:
    shipped: list[GraphChecks]  # every shipped graph on the test split; the first is the one chosen on this host
    behaviour: list[behaviour.CheckResult]
    max_samples: int | None  # the test subset the checks ran on (the gate scores production on the same one)
    seed: int

    @property
    def quantization(self) -> QuantizationReport:
        return self.shipped[0][0]

    @property
    def invariance(self) -> BatchInvarianceReport:
        return self.shipped[0][1]

    def gate_checks(self) -> list[GateCheck]:
        """The candidate's own checks, as the gate counts them."""
        return [
            *quantization_checks(self.shipped),
            *(GateCheck(c.name, c.passed, f"{c.score:.3f} (min {c.threshold})") for c in self.behaviour),
        ]


def evaluate_stage(
    dataset: PreparedDataset,
    model: Path,
    packages: Path,
    out: Path,
    *,
    max_samples: int | None,
    seed: int,
    threads: int = 2,
) -> Evaluated:
    """Every shipped graph against fp32 on the test split (the quantization rule again), batch invariance and the
    behavioural checks. Writes the evaluation, then raises :class:`PipelineFailed` when a shipped graph breaks the
    rule (nothing is registered)."""
    rule = QuantizationRule(**json.loads((packages / RULE_FILE).read_text(encoding="utf-8")))
    texts, keywords, truth = evaluation_tweets(dataset, max_samples, seed)
    fp32 = Predictor(packages / FP32_DIR, version="fp32", graph=REFERENCE, threads=threads)
    names = PackageMeta.read(packages / INT8_DIR).graph_names
    shipped = check_graphs(
        fp32, packages / INT8_DIR, names, texts, keywords, truth, dataset.positive_label, rule, threads=threads
    )
    chosen = Predictor(packages / INT8_DIR, version="candidate", graph=names[0], threads=threads)
    checks = behaviour.standard_checks(
        lambda batch: chosen.score(list(batch)).probabilities,
        texts[:BEHAVIOUR_TWEETS],
        dataset.labels,
        dataset.positive_label,
    )
    evaluated = Evaluated(shipped, checks, max_samples, seed)
    out.mkdir(parents=True, exist_ok=True)
    quant = evaluated.quantization
    (out / EVALUATION_FILE).write_text(
        json.dumps(
            {
                "int8": quant.int8.to_dict(),
                "fp32": quant.fp32.to_dict(),
                "graphs": [{"quantization": asdict(q), "batch_invariance": asdict(i)} for q, i in shipped],
                "gate_checks": [asdict(check) for check in evaluated.gate_checks()],
                "behaviour": [asdict(c) for c in checks],
                "max_samples": max_samples,
                "seed": seed,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    tuned, _ = read_fine_tuned(model)
    record = StageRecord(out)
    _record_quality(record, dataset, evaluated, chosen, tuned, (texts, keywords, truth), out / "figures")
    record.save()
    require(shipped)
    return evaluated


def _record_quality(
    record: StageRecord,
    dataset: PreparedDataset,
    evaluated: Evaluated,
    int8: Predictor,
    tuned: FineTuned,
    test: tuple[list[str], list[str | None], list[str]],
    figures: Path,
) -> None:
    quant, invariance = evaluated.quantization, evaluated.invariance
    for prefix, ev in (("test", quant.int8), ("test.fp32", quant.fp32)):
        for key, value in ev.headline().items():
            record.metric(f"{prefix}.{key}", value)
        for label, per in ev.per_class.items():
            record.metric(f"{prefix}.class.{label}.f1", per.f1)
    record.metric("int8.f1_drop", quant.f1_drop)
    record.metric("int8.label_agreement", quant.label_agreement)
    record.metric("int8.max_probability_difference", quant.max_probability_difference)
    record.metric("batch_invariance.max_difference", invariance.max_difference)
    for graph_quant, graph_invariance in evaluated.shipped:
        name = slug(graph_quant.graph)
        record.metric(f"graph.{name}.test.f1", graph_quant.int8.f1)
        record.metric(f"graph.{name}.label_agreement", graph_quant.label_agreement)
        record.metric(f"graph.{name}.batch_invariance", graph_invariance.max_difference)
    for check in evaluated.behaviour:
        record.metric(f"behaviour.{slug(check.name)}", check.score)
    record.json(
        "evaluation/test.json",
        {
            "int8": quant.int8.to_dict(),
            "fp32": quant.fp32.to_dict(),
            "graphs": [{"quantization": asdict(q), "batch_invariance": asdict(i)} for q, i in evaluated.shipped],
        },
    )
    record.json("evaluation/behaviour.json", {"checks": [asdict(c) for c in evaluated.behaviour]})
    record.json("evaluation/batch_invariance.json", asdict(invariance))
    texts, keywords, truth = test
    started = time.perf_counter()
    probs = int8.score(texts, keywords).probabilities
    record.metric("int8.tweets_per_second", len(texts) / max(time.perf_counter() - started, 1e-9))
    figures.mkdir(parents=True, exist_ok=True)
    y = np.array([dataset.labels.index(t) for t in truth])
    plots.reliability_diagram(probs, y, quant.int8.ece, figures / "reliability.png")
    plots.confusion_matrix(
        quant.int8.confusion, dataset.labels, figures / "confusion_matrix.png", f"{quant.graph}, test split"
    )
    if tuned.history:
        plots.learning_curves(tuned.history, figures / "learning_curves.png")
    for figure in sorted(figures.glob("*.png")):
        record.file(figure, "figures")


def require(shipped: list[GraphChecks]) -> None:
    """Every shipped graph satisfies the quantization rule and batch invariance on the test split."""
    for quant, invariance in shipped:
        if not quant.passed:
            raise HeldOutCheckFailed(
                f"graph {quant.graph}: F1 {quant.int8.f1:.4f} is {quant.f1_drop:.4f} below fp32 {quant.fp32.f1:.4f} "
                f"(allowed {quant.max_allowed_f1_drop}), label agreement {quant.label_agreement:.2%} (at least "
                f"{quant.min_label_agreement:.0%}) on the test split; not registered"
            )
        if not invariance.passed:
            raise HeldOutCheckFailed(
                f"graph {invariance.graph}: batch invariance broken: max |p(batch) − p(alone)| = "
                f"{invariance.max_difference:.2e} > {invariance.tolerance:.0e}; not registered"
            )


# ---- register -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    run_id: str
    version: ModelVersion  # with the gate's verdict in its tags
    gate: GateReport


def register_stage(
    registry: Registry,
    dataset: PreparedDataset,
    folders: StageFolders,
    *,
    gate: GateSettings,
    drift_reference_size: int,
    trigger: str,
    run_name: str,
    commit: str | None = None,
) -> Registered:
    """One MLflow run with every stage's record, the package registered as `candidate` (with its lineage and drift
    reference), and the gate against production. The run is marked FAILED if any of it fails."""
    commit = commit or lineage.git_commit()
    run_tags = {
        "dataset.version": dataset.version,
        "git.commit": commit,
        "tweet_triage.version": lineage.package_version(),
        "trigger": trigger,
    }
    run = MlflowRunRecorder.start(registry.client, registry.experiment, run_name, run_tags)
    try:
        registered = _register(registry, run, dataset, folders, gate, drift_reference_size, trigger, commit)
    except BaseException:
        run.finish(succeeded=False)
        raise
    run.finish(succeeded=True)
    return registered


def _register(
    registry: Registry,
    run: RunRecorder,
    dataset: PreparedDataset,
    folders: StageFolders,
    thresholds: GateSettings,
    drift_reference_size: int,
    trigger: str,
    commit: str,
) -> Registered:
    _record_inputs(run, dataset)
    records = {folder: StageRecord.load(folder) for folder in (folders.model, folders.packages, folders.evaluation)}
    for record in records.values():
        record.upload(run)
    _, train = read_fine_tuned(folders.model)
    evaluation = json.loads((folders.evaluation / EVALUATION_FILE).read_text(encoding="utf-8"))
    package = folders.packages / INT8_DIR
    meta = PackageMeta.read(package)  # the package names the run that registered it
    replace(meta, lineage={**meta.lineage, "run_id": run.run_id, "git_commit": commit}).write(package)
    candidate = Predictor(package, version="candidate", threads=train.threads)
    drift_reference(candidate, dataset, drift_reference_size, train.seed).save(package)
    int8 = evaluation["int8"]
    tags = {
        "dataset.version": dataset.version,
        "git.commit": commit,
        "run_id": run.run_id,
        "trigger": trigger,
        "quantization": meta.graph_names[0],
        "quantization.graphs": ",".join(meta.graph_names),
        "quantization.cpu": records[folders.packages].tags.get("quantization.cpu", ""),
        "test.f1": f"{int8['f1']:.4f}",
        "test.ece": f"{int8['ece']:.4f}",
    }
    version = registry.register(run.run_id, package, tags, description=f"trained on {dataset.version}")
    report = gate_candidate(
        registry,
        version.version,
        dataset,
        candidate_metrics={key: float(int8[key]) for key in HEADLINE_METRICS},
        own_checks=[GateCheck.from_dict(check) for check in evaluation["gate_checks"]],
        test=evaluation_tweets(dataset, evaluation["max_samples"], int(evaluation["seed"])),
        thresholds=thresholds,
        policy=meta.point.policy if meta.point is not None else "f2",
        threads=train.threads,
    )
    run.log_text(report.to_json(), "gate/gate_report.json")
    run.log_text(report.to_markdown(), "gate/gate_report.md")
    registry.set_tags(version.version, report.to_tags())
    run.log_metric("gate.passed", float(report.passed))
    return Registered(run.run_id, registry.get(version.version), report)


def _record_inputs(run: RunRecorder, dataset: PreparedDataset) -> None:
    run.log_params({"dataset_version": dataset.version, "labels": ",".join(dataset.labels)})
    report = dataset.report
    with tempfile.TemporaryDirectory(prefix="tweet-triage-inputs-") as tmp:
        record = StageRecord(Path(tmp))
        record.text("data/report.md", report.to_markdown(dataset.version))
        record.json("data/report.json", asdict(report))
        for split, counts in report.label_counts.items():
            record.metric(f"data.{split}.rows", float(sum(counts.values())))
        record.metric("data.dropped_rows", float(len(report.dropped)))
        env = lineage.environment()
        record.text("environment/requirements.txt", env.pop("requirements") + "\n")
        record.json("environment/runtime.json", env)
        record.upload(run)


def gate_candidate(
    registry: Registry,
    version: str,
    dataset: PreparedDataset,
    *,
    candidate_metrics: dict[str, float],
    own_checks: list[GateCheck],
    test: tuple[list[str], list[str | None], list[str]],
    thresholds: GateSettings,
    policy: str,
    threads: int = 2,
) -> GateReport:
    """The gate: the candidate's own checks, and production scored at its own operating point on the same test
    tweets."""
    production = registry.find(PRODUCTION)
    production_metrics = None
    if production is not None:
        texts, keywords, truth = test
        prod = Predictor(registry.download(production), version=production.version, threads=threads)
        if prod.labels != dataset.labels:
            raise ModelError(
                f"production v{production.version} has labels {prod.labels}, the candidate {dataset.labels}"
            )
        probabilities = prod.score(texts, keywords).probabilities
        production_metrics = evaluate(
            probabilities, truth, prod.labels, dataset.positive_label, prod.operating_point
        ).headline()
    return decide(
        candidate_version=version,
        candidate_metrics=candidate_metrics,
        production_version=production.version if production else None,
        production_metrics=production_metrics,
        own_checks=own_checks,
        thresholds=thresholds,
        policy=policy,
    )


# ---- shared steps -------------------------------------------------------------------------------------------------


def package_operating_point(
    package: Path, dataset: PreparedDataset, policy: str, train: TrainConfig, validation: Tweets | None = None
) -> ChosenPoint:
    """Choose and record the package's operating point on the validation tweets the study used, and its training
    languages."""
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


def study_tweets(dataset: PreparedDataset, limit: int | None, seed: int) -> Tweets:
    """The validation tweets the quantization study measures candidates on (never test tweets)."""
    sample = subsample(dataset.splits["validation"], limit, seed)
    return Tweets([e.text for e in sample], [e.keyword for e in sample], [e.label for e in sample])


def calibration_tweets(dataset: PreparedDataset, limit: int, seed: int) -> list[tuple[str, str | None]]:
    """Static calibration and smoothing come from training tweets only (never validation or test)."""
    return [(e.text, e.keyword) for e in subsample(dataset.splits["train"], limit, seed)] if limit else []


def evaluation_tweets(
    dataset: PreparedDataset, limit: int | None, seed: int
) -> tuple[list[str], list[str | None], list[str]]:
    """Texts, keywords and labels of the test subset every check and the gate use."""
    sample = subsample(dataset.splits["test"], limit, seed)
    return [e.text for e in sample], [e.keyword for e in sample], [e.label for e in sample]


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


def slug(name: str) -> str:
    return "_".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())
