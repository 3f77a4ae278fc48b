"""A local retraining: base data plus feedback, the training pipeline, a comparison report, an approval alert.

The base dataset is the one the production model was trained on (its ``dataset.version`` tag) when it is prepared
here, otherwise the latest prepared one. People's labels from the ``feedback`` container join its train split
(:mod:`tweet_triage.training.feedback_data`), which gives a new dataset version. The pipeline registers the new
version as ``candidate`` and compares it with production on the same test split (its gate); the report is written
next to the request and linked from an ``approval`` alert. Production never moves here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tweet_triage.errors import TriageError
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.alerts.records import AlertDraft
from tweet_triage.monitoring.feedback_store import FeedbackStore, latest_labels
from tweet_triage.monitoring.retrain.request import RetrainRequest
from tweet_triage.settings import Settings
from tweet_triage.training.feedback_data import FeedbackMerge, LabelledTweet, with_feedback
from tweet_triage.training.finetune import TrainConfig
from tweet_triage.training.pipeline import PipelineConfig, PipelineResult, run_pipeline
from tweet_triage.training.prepare import PreparedDataset, load, resolve, write
from tweet_triage.training.quantization.study import StudyConfig, quick_study

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalRetrainResult:
    candidate_version: str
    production_version: str | None
    gate_passed: bool
    report_path: Path


def run_local_retrain(
    settings: Settings,
    alert_id: str,
    request: RetrainRequest,
    center: AlertCenter,
    *,
    registry: Registry | None = None,
    train: TrainConfig | None = None,
    progress: bool = True,
    on_stage: Callable[[str], None] = log.info,
) -> LocalRetrainResult:
    registry = registry or Registry(settings)
    production = registry.find(PRODUCTION)
    on_stage("collecting the base dataset and human feedback")
    base = _base_dataset(settings, production.tags.get("dataset.version") if production else None)
    with FeedbackStore.open(settings, create=True) as store:
        labelled = [
            LabelledTweet(r.tweet_id, r.text, r.label, r.keyword)
            for r in latest_labels(list(store.iter_all())).values()
            if r.text
        ]
    merge = with_feedback(base, labelled)
    dataset = write(merge.dataset, settings.data.data_dir / "prepared") if labelled else base
    on_stage(
        f"dataset {dataset.version}: {merge.added} feedback tweets added, {merge.relabelled} relabelled, "
        f"{len(merge.left_out)} left out"
    )
    retrain = settings.retrain
    train = train or replace(
        TrainConfig(), epochs=retrain.epochs, max_samples=retrain.max_samples, threads=retrain.threads
    )
    smoke = train.max_samples is not None  # a quick retraining on a sample: it checks the path, not the model
    config = PipelineConfig(
        train=train,
        study=replace(quick_study() if smoke else StudyConfig(), threads=retrain.threads),  # a smoke run studies little
        gate=settings.gate,
        trigger=f"retrain:{request.trigger.kind}:{alert_id}",
        operating_point=retrain.operating_point,
        fall_back_to_reference=smoke,  # a tiny model's int8 noise on the test split must not end the smoke run
    )
    result = run_pipeline(settings, dataset, config, registry=registry, progress=progress, on_stage=on_stage)
    report_path = _write_report(settings, alert_id, request, result, merge)
    candidate = result.version.version
    center.raise_alert(
        AlertDraft(
            kind="approval",
            severity="warning",
            title=f"Candidate v{candidate} is ready for review",
            summary=(
                f"Retrained after: {request.trigger.reason or '?'}. Gate "
                f"{'PASSED' if result.gate.passed else 'FAILED'} against production "
                f"v{production.version if production else '-'} ({result.gate.summary}). Read the comparison "
                f"({report_path}), then `triage model promote {candidate} --approver NAME --reason TEXT` — or leave "
                "it. Nothing is promoted automatically."
            ),
            model_version=candidate,
            details={"request": alert_id, "gate_passed": result.gate.passed, "report": str(report_path)},
            scope=alert_id,
        )
    )
    return LocalRetrainResult(candidate, production.version if production else None, result.gate.passed, report_path)


def _base_dataset(settings: Settings, production_dataset: str | None) -> PreparedDataset:
    root = settings.data.data_dir / "prepared"
    if production_dataset and (root / production_dataset).exists():
        return load(root / production_dataset)
    try:
        return load(resolve(root, "latest"))
    except TriageError as exc:
        raise TriageError(f"no base dataset for retraining: {exc}") from None


def _write_report(
    settings: Settings, alert_id: str, request: RetrainRequest, result: PipelineResult, merge: FeedbackMerge
) -> Path:
    folder = settings.stack.state_dir / "retrain"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{alert_id}-comparison.md"
    lines = [
        f"# Retraining {alert_id}: candidate v{result.version.version} vs production",
        "",
        f"- trigger: {request.trigger.kind} — {request.trigger.reason}",
        f"- requested by: {request.trigger.requested_by}",
        f"- dataset: {merge.dataset.version} ({merge.added} feedback tweets added, {merge.relabelled} relabelled, "
        f"{len(merge.left_out)} left out)",
        f"- MLflow run: {result.run_id}",
        "",
        result.gate.to_markdown(),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
