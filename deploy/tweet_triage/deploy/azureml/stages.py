"""`triage azure stage ...`: the retraining pipeline cut into steps that hand folders to each other.

`triage train` runs the whole pipeline in one process; an Azure ML pipeline runs each stage as its own job (its own
node, logs and retries) with ``uri_folder`` inputs and outputs. Each command here only parses its options and calls
the stage function of :mod:`tweet_triage.training.stages` that `triage train` calls too, with the gate thresholds of
the same settings (``TRIAGE_GATE__*``), so both paths produce the same package, checks and tags.

prepare -> fine-tune -> export (ONNX fp32 + int8 packages) -> evaluate (quality checks) -> register (`candidate`, gate)
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.cli.options import policy_option
from tweet_triage.errors import DataError
from tweet_triage.model.operating_point import DEFAULT_POLICY
from tweet_triage.model.registry import Registry
from tweet_triage.training import stages
from tweet_triage.training.datasets import get_spec, sha256_of
from tweet_triage.training.feedback_data import read_feedback_csv, with_feedback
from tweet_triage.training.finetune import TrainConfig, quick_profile
from tweet_triage.training.pipeline import DRIFT_REFERENCE_SIZE
from tweet_triage.training.prepare import load, prepare, resolve, write
from tweet_triage.training.quantization.study import study_config

app = typer.Typer(help="Pipeline stages run by Azure ML components (folders in, folders out).", no_args_is_help=True)

REGISTRATION_FILE = "registration.json"

# The folders the stages hand each other (Azure ML ``uri_folder`` inputs).
PreparedDir = Annotated[Path, typer.Option("--prepared", help="Output of the prepare stage.")]
ModelDir = Annotated[Path, typer.Option("--model", help="Output of the fine-tune stage.")]
PackagesDir = Annotated[Path, typer.Option("--packages", help="Output of the export stage.")]


class StudySize(StrEnum):
    """How much of the quantization study the export stage runs (quick: smoke runs of the pipeline)."""

    FULL = "full"
    QUICK = "quick"


def _prepared(folder: Path) -> Any:
    """The one prepared dataset version written under ``folder`` by the prepare stage."""
    return load(resolve(folder, "latest"))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


@app.command("prepare")
def prepare_stage(
    ctx: typer.Context,
    raw: Annotated[Path, typer.Option(help="Folder with the labelled CSV.")],
    out: Annotated[Path, typer.Option(help="Output folder for the prepared dataset.")],
    file: Annotated[str, typer.Option(help="The CSV inside --raw.")] = "train.csv",
    feedback: Annotated[Path | None, typer.Option(help="Human labels (CSV file or folder) to add.")] = None,
) -> None:
    """Validate, clean, deduplicate and split (the known dataset's columns), adding feedback labels if given."""
    context = cli_context(ctx)
    spec = get_spec("disaster-tweets")
    source = raw / file
    if not source.is_file():
        raise DataError(f"{source} does not exist")
    dataset = prepare(source, spec.prepare_options(), sha256_of(source))
    if feedback is not None:  # the same policy as a local retraining: people's labels join the train split only
        merge = with_feedback(dataset, read_feedback_csv(feedback))
        dataset = merge.dataset
        context.console.print(
            f"feedback: {merge.added} added, {merge.relabelled} relabelled, {len(merge.left_out)} left out"
        )
    dataset = write(dataset, out)
    context.console.print(f"prepared {dataset.version}")


@app.command("fine-tune")
def fine_tune_stage(
    ctx: typer.Context,
    prepared: PreparedDir,
    out: Annotated[Path, typer.Option(help="Output folder for the fine-tuned model.")],
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 3,
    seed: Annotated[int, typer.Option()] = 42,
    quick: Annotated[bool, typer.Option(help="Quick profile (smoke runs).")] = False,
    max_samples: Annotated[int | None, typer.Option(min=10, help="At most N tweets per split.")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimizer steps.")] = None,
) -> None:
    """Fine-tune the base model; writes the Hugging Face model folder and its calibration temperature."""
    context = cli_context(ctx)
    config = replace(quick_profile(), seed=seed) if quick else TrainConfig(epochs=epochs, seed=seed)
    if max_samples is not None or max_steps is not None:
        config = replace(config, max_samples=max_samples or config.max_samples, max_steps=max_steps or config.max_steps)
    tuned = stages.fine_tune_stage(_prepared(prepared), config, out, progress=False)
    context.console.print(f"fine-tuned in {tuned.train_seconds:.0f} s, temperature {tuned.temperature:.3f}")


@app.command("export")
def export_stage(
    ctx: typer.Context,
    prepared: PreparedDir,
    model: ModelDir,
    out: Annotated[Path, typer.Option(help="Output folder: fp32/ and int8/ model packages, the quantization study.")],
    quantization: Annotated[
        str, typer.Option(help="Quantization candidates: auto | all | names separated by commas (as `triage train`).")
    ] = "auto",
    study_size: Annotated[
        StudySize, typer.Option("--study", help="full: the training default; quick: fewer tweets and candidates.")
    ] = StudySize.FULL,
    operating_point: Annotated[
        str,
        typer.Option(callback=policy_option, help="Decision threshold policy: f2 (default), f1, or recall>=R."),
    ] = DEFAULT_POLICY,
) -> None:
    """Export to ONNX and run the quantization study on this node's CPU; writes the fp32 reference package and the
    package that ships, with its operating point."""
    context = cli_context(ctx)
    study = study_config(quantization, quick=study_size is StudySize.QUICK)
    exported = stages.export_stage(
        _prepared(prepared), model, study, operating_point, out, on_step=context.console.print
    )
    context.console.print(exported.study.to_markdown())
    context.console.print(f"packages in {exported.fp32} and {exported.package}")


@app.command("evaluate")
def evaluate_stage(
    ctx: typer.Context,
    prepared: PreparedDir,
    model: ModelDir,
    packages: PackagesDir,
    out: Annotated[Path, typer.Option(help="Output folder for the evaluation report.")],
    max_samples: Annotated[int | None, typer.Option(min=10, help="Evaluate on at most N test tweets.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --max-samples subset.")] = 42,
) -> None:
    """Every shipped graph against fp32 on the test split (the quantization rule), behavioural checks; fails when a
    shipped graph breaks the rule."""
    context = cli_context(ctx)
    evaluated = stages.evaluate_stage(_prepared(prepared), model, packages, out, max_samples=max_samples, seed=seed)
    quant = evaluated.quantization
    context.console.print(f"{quant.graph} F1 {quant.int8.f1:.4f} (fp32 {quant.fp32.f1:.4f})")


@app.command("register")
def register_stage(
    ctx: typer.Context,
    prepared: PreparedDir,
    model: ModelDir,
    packages: PackagesDir,
    evaluation: Annotated[Path, typer.Option(help="Output of the evaluate stage.")],
    out: Annotated[Path, typer.Option(help="Output folder: registration.json.")],
    reason: Annotated[str, typer.Option(help="Why this retraining ran.")] = "scheduled",
    git_commit: Annotated[str, typer.Option(help="Commit of the source (the job's snapshot has no .git).")] = "unknown",
) -> None:
    """Log the run to MLflow (the workspace), register the int8 package as `candidate`, gate it against production."""
    context = cli_context(ctx)
    settings = context.settings
    if settings.mlflow.tracking_uri is None and os.environ.get("MLFLOW_TRACKING_URI"):
        # Inside an Azure ML job MLflow already points at the workspace.
        settings = settings.model_copy(
            update={"mlflow": settings.mlflow.model_copy(update={"tracking_uri": os.environ["MLFLOW_TRACKING_URI"]})}
        )
    dataset = _prepared(prepared)
    registered = stages.register_stage(
        Registry(settings),
        dataset,
        stages.StageFolders(model, packages, evaluation),
        gate=settings.gate,
        drift_reference_size=DRIFT_REFERENCE_SIZE,
        trigger=reason,
        run_name=f"azureml {dataset.version}",
        commit=None if git_commit == "unknown" else git_commit,
    )
    version, gate = registered.version.version, registered.gate
    _write_json(out / REGISTRATION_FILE, {"version": version, "run_id": registered.run_id, "gate_passed": gate.passed})
    context.console.print(f"registered v{version} (candidate); gate {'passed' if gate.passed else 'FAILED'}")
