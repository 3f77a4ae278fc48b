"""`triage train`: the training stages one after the other in one process, from prepared data to a gated `candidate`.

fine-tune -> export (ONNX, quantization study on this CPU, operating point) -> evaluate (every shipped graph against
fp32 on the test split, behaviour) -> register (one MLflow run, version `candidate`, gate against production).

The stages are :mod:`tweet_triage.training.stages`, the very functions the Azure ML pipeline runs as separate jobs.
The pipeline fails (nothing is registered) when no graph satisfies the quantization rule, or a shipped graph breaks
it on the test split — unless the configuration asks to fall back to the fp32 reference graph then (the demo's
bootstrap does: it must end with a model on every CPU); a gate failure still registers the candidate, but promotion
will refuse it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tweet_triage.model.gate import GateReport
from tweet_triage.model.operating_point import DEFAULT_POLICY
from tweet_triage.model.registry import ModelVersion, Registry
from tweet_triage.settings import GateSettings, Settings
from tweet_triage.training import behaviour
from tweet_triage.training.evaluate import Evaluation
from tweet_triage.training.finetune import FineTuned, TrainConfig
from tweet_triage.training.prepare import PreparedDataset
from tweet_triage.training.quality import BatchInvarianceReport, GraphChecks, QuantizationReport
from tweet_triage.training.quantization.schemes import REFERENCE
from tweet_triage.training.quantization.study import StudyConfig, StudyReport
from tweet_triage.training.stages import (
    Evaluated,
    Exported,
    HeldOutCheckFailed,
    PipelineFailed,
    StageFolders,
    evaluate_stage,
    export_stage,
    fine_tune_stage,
    register_stage,
)

log = logging.getLogger(__name__)

__all__ = ["PipelineConfig", "PipelineFailed", "PipelineResult", "run_pipeline"]

DRIFT_REFERENCE_SIZE = 1000


@dataclass(frozen=True)
class PipelineConfig:
    train: TrainConfig = field(default_factory=TrainConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    gate: GateSettings = field(default_factory=GateSettings)  # `triage train` passes settings.gate
    drift_reference_size: int = DRIFT_REFERENCE_SIZE
    operating_point: str = DEFAULT_POLICY  # see tweet_triage.model.operating_point
    trigger: str = "manual"
    # When a graph chosen on the validation split breaks the rule on the test split: ship the fp32 reference graph
    # (slower, never less accurate) instead of failing. Off for `triage train`: a real training fails loudly.
    fall_back_to_reference: bool = False


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
    train = config.train
    with tempfile.TemporaryDirectory(prefix="tweet-triage-train-") as tmp:
        folders = StageFolders.under(Path(tmp))
        on_stage("fine-tuning")
        tuned = fine_tune_stage(dataset, train, folders.model, progress=progress)
        exported, evaluated = _export_and_evaluate(dataset, folders, config, on_stage)
        on_stage("registering the candidate and gating it against production")
        registered = register_stage(
            registry,
            dataset,
            folders,
            gate=config.gate,
            drift_reference_size=config.drift_reference_size,
            trigger=config.trigger,
            run_name=f"train {dataset.version} seed {train.seed}",
        )
    return PipelineResult(
        registered.run_id,
        registered.version,
        evaluated.quantization.int8,
        evaluated.quantization,
        evaluated.invariance,
        registered.gate,
        evaluated.behaviour,
        tuned,
        exported.study,
        evaluated.shipped,
    )


def _export_and_evaluate(
    dataset: PreparedDataset, folders: StageFolders, config: PipelineConfig, on_stage: Callable[[str], None]
) -> tuple[Exported, Evaluated]:
    """The export stage (with its quantization study) and the evaluate stage; once more with the fp32 reference graph
    alone if a chosen graph fails on the test split and the configuration allows the fallback."""
    study = config.study
    while True:
        on_stage("exporting to ONNX and studying quantization candidates")
        exported = export_stage(
            dataset, folders.model, study, config.operating_point, folders.packages, on_step=on_stage
        )
        on_stage("evaluating every shipped graph against fp32 on the test split")
        try:
            evaluated = evaluate_stage(
                dataset,
                folders.model,
                folders.packages,
                folders.evaluation,
                max_samples=config.train.max_samples,
                seed=config.train.seed,
                threads=config.train.threads,
            )
        except HeldOutCheckFailed as exc:
            if not config.fall_back_to_reference or study.candidates == (REFERENCE,):
                raise
            log.warning("%s", exc)
            on_stage(f"{exc}: shipping the {REFERENCE} reference graph instead")
            study = replace(study, candidates=(REFERENCE,))
            continue
        return exported, evaluated
