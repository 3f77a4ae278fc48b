"""The training pipeline, one MLflow run from prepared data to a registered `candidate`:

fine-tune -> ONNX export -> int8 quantization -> evaluate both -> batch-invariance -> behavioural checks
-> drift reference -> register (alias candidate) -> gate against production.

The pipeline fails (and the run is marked FAILED) when the int8 model loses more than the allowed F1 against fp32 or
when batch invariance does not hold; a gate failure still registers the candidate, but promotion will refuse it.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tweet_triage.errors import ModelError
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.package import TOKENIZER_DIR, DriftReference, PackageMeta
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, ModelVersion, Registry
from tweet_triage.settings import Settings
from tweet_triage.training import behaviour, export, lineage, plots
from tweet_triage.training.evaluate import Evaluation, evaluate
from tweet_triage.training.finetune import EpochRecord, FineTuned, TrainConfig, fine_tune, subsample
from tweet_triage.training.gate import GateCheck, GateReport, decide
from tweet_triage.training.prepare import Example, PreparedDataset
from tweet_triage.training.quality import BatchInvarianceReport, QuantizationReport, batch_invariance, compare_quantized

log = logging.getLogger(__name__)

HF_MODEL_ARTIFACT = "hf_model"


@dataclass(frozen=True)
class PipelineConfig:
    train: TrainConfig = field(default_factory=TrainConfig)
    quantization: export.QuantScheme = "static"
    max_int8_f1_drop: float = 0.01
    batch_invariance_tolerance: float = 1e-3
    drift_reference_size: int = 1000
    calibration_size: int = 256
    max_f1_regression: float = 0.0
    max_ece: float = 0.05
    trigger: str = "manual"


@dataclass(frozen=True)
class PipelineResult:
    run_id: str
    version: ModelVersion
    test: Evaluation
    quantization: QuantizationReport
    invariance: BatchInvarianceReport
    gate: GateReport
    behaviour: list[behaviour.CheckResult]
    fine_tuned: FineTuned


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
    client = registry.client
    experiment_id = _experiment(client, settings.mlflow.experiment)
    commit = lineage.git_commit()
    run = client.create_run(
        experiment_id,
        tags={
            "mlflow.runName": f"train {dataset.version} seed {config.train.seed}",
            "dataset.version": dataset.version,
            "git.commit": commit,
            "tweet_triage.version": lineage.package_version(),
            "trigger": config.trigger,
        },
    )
    run_id = run.info.run_id
    try:
        result = _run(settings, dataset, config, registry, run_id, commit, progress, on_stage)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return result


def _run(
    settings: Settings,
    dataset: PreparedDataset,
    config: PipelineConfig,
    registry: Registry,
    run_id: str,
    commit: str,
    progress: bool,
    on_stage: Callable[[str], None],
) -> PipelineResult:
    client = registry.client
    train_cfg = config.train
    _log_params(
        client,
        run_id,
        {
            **asdict(train_cfg),
            "quantization": config.quantization,
            "dataset_version": dataset.version,
            "labels": ",".join(dataset.labels),
        },
    )
    _log_dataset(client, run_id, dataset)
    _log_environment(client, run_id)
    test = subsample(dataset.splits["test"], train_cfg.max_samples, train_cfg.seed)
    texts, keywords, truth = [e.text for e in test], [e.keyword for e in test], [e.label for e in test]

    with tempfile.TemporaryDirectory(prefix="tweet-triage-train-") as tmp:
        work = Path(tmp)
        on_stage("fine-tuning")

        def on_epoch(record: EpochRecord) -> None:
            client.log_metric(run_id, "train.loss", record.train_loss, step=record.epoch)
            client.log_metric(run_id, "validation.f1", record.validation_f1, step=record.epoch)
            client.log_metric(run_id, "validation.loss", record.validation_loss, step=record.epoch)

        tuned = fine_tune(dataset, train_cfg, work / "hf", progress=progress, on_epoch=on_epoch)
        # The fp32 PyTorch weights stay with the run: reproducibility, and the baseline `make bench-model` compares to.
        client.log_artifacts(run_id, str(tuned.model_dir), HF_MODEL_ARTIFACT)
        for key, value in (
            ("train.seconds", tuned.train_seconds),
            ("train.samples_per_second", tuned.samples_per_second),
            ("calibration.temperature", tuned.temperature),
        ):
            client.log_metric(run_id, key, value)

        on_stage("exporting to ONNX and quantizing")
        meta = PackageMeta(
            labels=dataset.labels,
            positive_label=dataset.positive_label,
            max_length=train_cfg.max_length,
            use_keyword=train_cfg.use_keyword,
            temperature=tuned.temperature,
            lineage={"dataset_version": dataset.version, "run_id": run_id, "git_commit": commit},
        )
        fp32_dir, int8_dir = work / "fp32", work / "package"
        fp32_model = export.export_onnx(tuned.model_dir, work / "onnx")
        _assemble(fp32_dir, fp32_model, tuned.model_dir, meta)
        fp32 = Predictor(fp32_dir, version="fp32")
        calibration = _calibration(fp32, dataset.splits["train"], config)
        int8_model = work / "int8" / "model.onnx"
        quant_info = export.quantize(fp32_model, int8_model, config.quantization, calibration)
        dim = int(fp32.score(["probe"]).embeddings.shape[1])
        _assemble(int8_dir, int8_model, tuned.model_dir, replace(meta, quantization=quant_info, embedding_dim=dim))
        int8 = Predictor(int8_dir, version="candidate")

        on_stage("evaluating fp32 and int8 on the test split")
        quant = compare_quantized(fp32, int8, texts, keywords, truth, dataset.positive_label, config.max_int8_f1_drop)
        invariance = batch_invariance(int8, texts, keywords, config.batch_invariance_tolerance)
        checks = behaviour.standard_checks(
            lambda batch: int8.score(list(batch)).probabilities, texts[:300], dataset.labels, dataset.positive_label
        )
        _log_quality(client, run_id, quant, invariance, checks, work, dataset, int8, texts, keywords, truth, tuned)
        if not quant.passed:
            raise PipelineFailed(
                f"int8 F1 {quant.int8.f1:.4f} is {quant.f1_drop:.4f} below fp32 {quant.fp32.f1:.4f} "
                f"(allowed {config.max_int8_f1_drop}); not registered"
            )
        if not invariance.passed:
            raise PipelineFailed(
                f"batch invariance broken: max |p(batch) − p(alone)| = {invariance.max_difference:.2e} > "
                f"{invariance.tolerance:.0e}; not registered"
            )

        on_stage("building the drift reference")
        reference = drift_reference(int8, dataset, config.drift_reference_size, train_cfg.seed)
        reference.save(int8_dir)

        on_stage("registering the candidate")
        tags = {
            "dataset.version": dataset.version,
            "git.commit": commit,
            "run_id": run_id,
            "quantization": config.quantization,
            "test.f1": f"{quant.int8.f1:.4f}",
            "test.ece": f"{quant.int8.ece:.4f}",
        }
        version = registry.register(run_id, int8_dir, tags, description=f"trained on {dataset.version}")

        on_stage("gating against production")
        gate = _gate(registry, version, quant, invariance, checks, config, texts, keywords, truth, dataset)
        client.log_text(run_id, gate.to_json(), "gate/gate_report.json")
        client.log_text(run_id, gate.to_markdown(), "gate/gate_report.md")
        registry.set_tags(
            version.version, {"gate.passed": str(gate.passed).lower(), "gate.summary": gate.summary[:4000]}
        )
        client.log_metric(run_id, "gate.passed", float(gate.passed))
        version = registry.get(version.version)
    return PipelineResult(run_id, version, quant.int8, quant, invariance, gate, checks, tuned)


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


def _assemble(folder: Path, onnx_model: Path, hf_dir: Path, meta: PackageMeta) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_model, folder / "model.onnx")
    if not (folder / TOKENIZER_DIR).exists():
        export.copy_tokenizer(hf_dir, folder / TOKENIZER_DIR)
    meta.write(folder)


def _calibration(fp32: Predictor, train: list[Example], config: PipelineConfig) -> export.CalibrationBatches:
    """Static quantization scales come from training tweets only (never validation or test)."""
    sample = subsample(train, config.calibration_size, config.train.seed)
    token_ids = fp32.token_ids([e.text for e in sample], [e.keyword for e in sample])
    return export.CalibrationBatches.from_token_ids(token_ids, fp32.input_names)


def _gate(
    registry: Registry,
    version: ModelVersion,
    quant: QuantizationReport,
    invariance: BatchInvarianceReport,
    checks: list[behaviour.CheckResult],
    config: PipelineConfig,
    texts: list[str],
    keywords: list[str],
    truth: list[str],
    dataset: PreparedDataset,
) -> GateReport:
    production = registry.find(PRODUCTION)
    production_metrics = None
    if production is not None:
        prod = Predictor(registry.download(production), version=production.version)
        if prod.labels != dataset.labels:
            raise ModelError(
                f"production v{production.version} has labels {prod.labels}, the candidate {dataset.labels}"
            )
        production_metrics = evaluate(
            prod.score(texts, keywords).probabilities, truth, prod.labels, dataset.positive_label
        ).headline()
    own = [
        GateCheck(
            "int8 vs fp32", quant.passed, f"F1 drop {quant.f1_drop:+.4f}, label agreement {quant.label_agreement:.4f}"
        ),
        GateCheck("batch invariance", invariance.passed, f"max diff {invariance.max_difference:.2e}"),
        *(GateCheck(c.name, c.passed, f"{c.score:.3f} (min {c.threshold})") for c in checks),
    ]
    return decide(
        candidate_version=version.version,
        candidate_metrics=quant.int8.headline(),
        production_version=production.version if production else None,
        production_metrics=production_metrics,
        own_checks=own,
        max_f1_regression=config.max_f1_regression,
        max_ece=config.max_ece,
    )


# ---- MLflow logging ---------------------------------------------------------------------------------------------


def _experiment(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return str(found.experiment_id) if found is not None else str(client.create_experiment(name))


def _log_params(client: Any, run_id: str, params: dict[str, Any]) -> None:
    for key, value in params.items():
        client.log_param(run_id, key, "" if value is None else value)


def _log_dataset(client: Any, run_id: str, dataset: PreparedDataset) -> None:
    client.log_text(run_id, dataset.report.to_markdown(dataset.version), "data/report.md")
    client.log_dict(run_id, asdict(dataset.report), "data/report.json")
    for split, counts in dataset.report.label_counts.items():
        client.log_metric(run_id, f"data.{split}.rows", float(sum(counts.values())))
    client.log_metric(run_id, "data.dropped_rows", float(len(dataset.report.dropped)))


def _log_environment(client: Any, run_id: str) -> None:
    env = lineage.environment()
    client.log_text(run_id, env.pop("requirements") + "\n", "environment/requirements.txt")
    client.log_dict(run_id, env, "environment/runtime.json")


def _log_quality(
    client: Any,
    run_id: str,
    quant: QuantizationReport,
    invariance: BatchInvarianceReport,
    checks: list[behaviour.CheckResult],
    work: Path,
    dataset: PreparedDataset,
    int8: Predictor,
    texts: list[str],
    keywords: list[str],
    truth: list[str],
    tuned: FineTuned,
) -> None:
    for prefix, ev in (("test", quant.int8), ("test.fp32", quant.fp32)):
        for key, value in ev.headline().items():
            client.log_metric(run_id, f"{prefix}.{key}", value)
        for label, per in ev.per_class.items():
            client.log_metric(run_id, f"{prefix}.class.{label}.f1", per.f1)
    client.log_metric(run_id, "int8.f1_drop", quant.f1_drop)
    client.log_metric(run_id, "int8.label_agreement", quant.label_agreement)
    client.log_metric(run_id, "int8.max_probability_difference", quant.max_probability_difference)
    client.log_metric(run_id, "batch_invariance.max_difference", invariance.max_difference)
    for check in checks:
        client.log_metric(run_id, f"behaviour.{_slug(check.name)}", check.score)
    client.log_dict(run_id, {"int8": quant.int8.to_dict(), "fp32": quant.fp32.to_dict()}, "evaluation/test.json")
    client.log_dict(run_id, [asdict(c) for c in checks], "evaluation/behaviour.json")
    figures = work / "figures"
    figures.mkdir(exist_ok=True)
    probs = int8.score(texts, keywords).probabilities
    y = np.array([dataset.labels.index(t) for t in truth])
    plots.reliability_diagram(probs, y, quant.int8.ece, figures / "reliability.png")
    plots.confusion_matrix(quant.int8.confusion, dataset.labels, figures / "confusion_matrix.png", "int8, test split")
    if tuned.history:
        plots.learning_curves(tuned.history, figures / "learning_curves.png")
    client.log_artifacts(run_id, str(figures), "figures")
    client.log_text(run_id, json.dumps(asdict(invariance), indent=2), "evaluation/batch_invariance.json")
    started = time.perf_counter()
    int8.score(texts, keywords)
    client.log_metric(run_id, "int8.tweets_per_second", len(texts) / max(time.perf_counter() - started, 1e-9))


def _slug(name: str) -> str:
    return "_".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())
