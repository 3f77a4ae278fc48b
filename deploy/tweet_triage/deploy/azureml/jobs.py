"""The retraining pipeline job, its weekly schedule, and submitting a run — the interface the monitors call.

``build_*`` are offline; :func:`submit_retrain` checks the settings, then acquires a credential within a bounded
time, then submits. Retraining only ever registers a `candidate`; promotion stays a human decision.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tweet_triage.deploy.azureml.components import build_components
from tweet_triage.deploy.azureml.environment import build_environment, reference
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.deploy.azureml.workspace import ml_client
from tweet_triage.settings import Settings
from tweet_triage.training import lineage

if TYPE_CHECKING:
    from azure.ai.ml.entities import JobSchedule, PipelineJob

PIPELINE_NAME = "tweet_triage_retrain"
SCHEDULE_NAME = "tweet-triage-weekly-retrain"
_WEEKDAYS = {
    "mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday", "fri": "friday", "sat": "saturday",
    "sun": "sunday",
}  # fmt: skip
_UNSAFE = re.compile(r"[^\w .,:;=+/@()-]")  # the reason lands in a shell command line: keep it plain


def _reason(reason: str) -> str:
    cleaned = _UNSAFE.sub("_", reason).strip()[:200]
    return cleaned or "unspecified"


def build_retrain_pipeline(
    settings: Settings, *, reason: str, feedback_data: str | None = None, tree: SourceTree | None = None
) -> PipelineJob:
    """prepare -> fine-tune -> export+quantize -> evaluate -> register (alias `candidate`), on the workspace compute.

    ``feedback_data`` is a ``uri_folder`` (a data asset ``azureml:NAME@latest`` or a datastore path) of human labels
    in CSV, merged into the training data before preparation.
    """
    from azure.ai.ml import Input, dsl

    source = tree or SourceTree.for_settings(settings)
    components = build_components(source, reference(build_environment(source)))
    azureml = settings.azureml
    # The uploaded snapshot has no .git: the commit is read here, at submission, and travels as an input.
    commit = lineage.git_commit(source.root)

    @dsl.pipeline(
        None,
        name=PIPELINE_NAME,
        display_name="tweet-triage retrain",
        description="Fine-tune, export, quantize, evaluate and register a candidate; promotion needs a human.",
        compute=azureml.compute,
    )
    def retrain(raw_data, training_file, reason):  # type: ignore[no-untyped-def]  # dsl reads real annotations
        prepared = components.prepare(raw_data=raw_data, training_file=training_file)
        if feedback_data is not None:
            prepared.inputs.feedback_data = Input(type="uri_folder", path=feedback_data)
        trained = components.train(prepared=prepared.outputs.prepared)
        exported = components.export(prepared=prepared.outputs.prepared, model=trained.outputs.model)
        evaluated = components.evaluate(
            prepared=prepared.outputs.prepared, model=trained.outputs.model, packages=exported.outputs.packages
        )
        registered = components.register(
            prepared=prepared.outputs.prepared,
            model=trained.outputs.model,
            packages=exported.outputs.packages,
            evaluation=evaluated.outputs.evaluation,
            reason=reason,
            git_commit=commit,
        )
        return {"registration": registered.outputs.registration}

    job: PipelineJob = retrain(
        raw_data=Input(type="uri_folder", path=azureml.training_data),
        training_file=azureml.training_file,
        reason=_reason(reason),
    )
    job.experiment_name = azureml.experiment
    job.tags = {"trigger": _reason(reason), "model": settings.mlflow.model_name}
    return job


def build_weekly_schedule(settings: Settings, *, tree: SourceTree | None = None) -> JobSchedule:
    """Every week on ``TRIAGE_RETRAIN__WEEKLY_DAY`` at ``WEEKLY_HOUR``:00 UTC, the retraining pipeline.

    The same two settings place the local monitor's weekly crontab, so both profiles retrain in the same slot.
    """
    from azure.ai.ml.constants import TimeZone
    from azure.ai.ml.entities import JobSchedule, RecurrencePattern, RecurrenceTrigger

    trigger = RecurrenceTrigger(
        frequency="week",
        interval=1,
        schedule=RecurrencePattern(
            week_days=[_WEEKDAYS[settings.retrain.weekly_day]], hours=[settings.retrain.weekly_hour], minutes=[0]
        ),
        start_time=datetime(2026, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        time_zone=TimeZone.UTC,
    )
    return JobSchedule(
        name=SCHEDULE_NAME,
        display_name="tweet-triage weekly retrain",
        trigger=trigger,
        create_job=build_retrain_pipeline(settings, reason="weekly schedule", tree=tree),
    )


def submit_retrain(settings: Settings, *, reason: str) -> str:
    """Submit the retraining pipeline; returns the job name. Raises SettingsError/CloudError naming what is missing."""
    client = ml_client(settings)  # settings first, then a bounded credential check: fails fast
    tree = SourceTree.for_settings(settings)
    client.environments.create_or_update(build_environment(tree))  # idempotent: the version is a content hash
    job = build_retrain_pipeline(settings, reason=reason, tree=tree)
    submitted = client.jobs.create_or_update(job, experiment_name=settings.azureml.experiment)
    return str(submitted.name)
