"""`triage azure stage ...`: the retraining pipeline cut into steps that hand folders to each other.

`triage train` runs the whole pipeline in one process; an Azure ML pipeline runs each stage as its own job (its own
node, logs and retries) with ``uri_folder`` inputs and outputs. Each command here is a thin wrapper over the same
training functions ``triage train`` uses, so both paths produce the same model package and checks.

prepare -> fine-tune -> export (ONNX fp32 + int8 packages) -> evaluate (quality gate) -> register (`candidate`)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.errors import DataError, ModelError, UsageError

app = typer.Typer(help="Pipeline stages run by Azure ML components (folders in, folders out).", no_args_is_help=True)

FINE_TUNED_FILE = "fine_tuned.json"
EVALUATION_FILE = "evaluation.json"
REGISTRATION_FILE = "registration.json"
FP32_DIR, INT8_DIR = "fp32", "int8"
HEADLINE_METRICS = ("f1", "precision", "recall", "accuracy", "roc_auc", "ece")


def _prepared(folder: Path) -> Any:
    """The one prepared dataset version written under ``folder`` by the prepare stage."""
    from tweet_triage.training.prepare import load, resolve

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
    from tweet_triage.training.datasets import get_spec, sha256_of
    from tweet_triage.training.feedback_data import read_feedback_csv, with_feedback
    from tweet_triage.training.prepare import PrepareOptions, prepare, write

    context = cli_context(ctx)
    spec = get_spec("disaster-tweets")
    source = raw / file
    if not source.is_file():
        raise DataError(f"{source} does not exist")
    options = PrepareOptions(
        text_column=spec.text_column,
        label_column=spec.label_column,
        id_column=spec.id_column,
        keyword_column=spec.keyword_column,
        label_names=spec.label_names,
    )
    dataset = prepare(source, options, sha256_of(source))
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
    prepared: Annotated[Path, typer.Option(help="Output of the prepare stage.")],
    out: Annotated[Path, typer.Option(help="Output folder for the fine-tuned model.")],
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 3,
    seed: Annotated[int, typer.Option()] = 42,
    quick: Annotated[bool, typer.Option(help="Quick profile (smoke runs).")] = False,
    max_samples: Annotated[int | None, typer.Option(min=10, help="At most N tweets per split.")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimizer steps.")] = None,
) -> None:
    """Fine-tune the base model; writes the Hugging Face model folder and its calibration temperature."""
    from dataclasses import replace

    from tweet_triage.training.finetune import TrainConfig, fine_tune, quick_profile

    context = cli_context(ctx)
    config = replace(quick_profile(), seed=seed) if quick else TrainConfig(epochs=epochs, seed=seed)
    if max_samples is not None or max_steps is not None:
        config = replace(config, max_samples=max_samples or config.max_samples, max_steps=max_steps or config.max_steps)
    tuned = fine_tune(_prepared(prepared), config, out / "hf", progress=False)
    _write_json(
        out / FINE_TUNED_FILE,
        {
            "temperature": tuned.temperature,
            "train_config": asdict(config),
            "history": [asdict(h) for h in tuned.history],
            "train_seconds": tuned.train_seconds,
        },
    )
    context.console.print(f"fine-tuned in {tuned.train_seconds:.0f} s, temperature {tuned.temperature:.3f}")


@app.command("export")
def export_stage(
    ctx: typer.Context,
    prepared: Annotated[Path, typer.Option(help="Output of the prepare stage.")],
    model: Annotated[Path, typer.Option(help="Output of the fine-tune stage.")],
    out: Annotated[Path, typer.Option(help="Output folder: fp32/ and int8/ model packages.")],
    quantization: Annotated[str, typer.Option(help="nbits8 | static")] = "nbits8",
) -> None:
    """Export to ONNX and quantize to int8; writes two complete model packages."""
    from tweet_triage.model.package import MODEL_FILE, PackageMeta
    from tweet_triage.model.predictor import Predictor
    from tweet_triage.training import export
    from tweet_triage.training.finetune import TrainConfig
    from tweet_triage.training.pipeline import PipelineConfig, assemble_package, calibration_batches

    context = cli_context(ctx)
    if quantization not in ("nbits8", "static"):
        raise UsageError(f"--quantization must be 'nbits8' or 'static', not {quantization!r}")
    dataset = _prepared(prepared)
    info = json.loads((model / FINE_TUNED_FILE).read_text())
    config = TrainConfig(**info["train_config"])
    hf_dir = model / "hf"
    meta = PackageMeta(
        labels=dataset.labels,
        positive_label=dataset.positive_label,
        max_length=config.max_length,
        use_keyword=config.use_keyword,
        temperature=float(info["temperature"]),
        lineage={"dataset_version": dataset.version},  # run id and commit: added by the register stage
    )

    fp32_model = export.export_onnx(hf_dir, out / "_onnx")
    assemble_package(out / FP32_DIR, fp32_model, hf_dir, meta)
    fp32 = Predictor(out / FP32_DIR, version="fp32")
    calibration = (
        calibration_batches(fp32, dataset.splits["train"], PipelineConfig(train=config))
        if quantization == "static"
        else None
    )
    int8_model = out / "_int8" / MODEL_FILE
    quant_info = export.quantize(fp32_model, int8_model, quantization, calibration)  # type: ignore[arg-type]
    dim = int(fp32.score(["probe"]).embeddings.shape[1])
    from dataclasses import replace

    assemble_package(out / INT8_DIR, int8_model, hf_dir, replace(meta, quantization=quant_info, embedding_dim=dim))
    export.remove_tree(out / "_onnx")
    export.remove_tree(out / "_int8")
    context.console.print(f"packages in {out / FP32_DIR} and {out / INT8_DIR}")


@app.command("evaluate")
def evaluate_stage(
    ctx: typer.Context,
    prepared: Annotated[Path, typer.Option(help="Output of the prepare stage.")],
    packages: Annotated[Path, typer.Option(help="Output of the export stage.")],
    out: Annotated[Path, typer.Option(help="Output folder for the evaluation report.")],
    max_int8_f1_drop: Annotated[float, typer.Option()] = 0.01,
    tolerance: Annotated[float, typer.Option(help="Batch-invariance tolerance.")] = 1e-3,
    max_samples: Annotated[int | None, typer.Option(min=10, help="Evaluate on at most N test tweets.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --max-samples subset.")] = 42,
) -> None:
    """fp32 vs int8 on the test split, batch invariance, behavioural checks; fails when int8 breaks a hard limit."""
    from tweet_triage.model.predictor import Predictor
    from tweet_triage.training import behaviour
    from tweet_triage.training.finetune import subsample
    from tweet_triage.training.quality import batch_invariance, compare_quantized

    context = cli_context(ctx)
    dataset = _prepared(prepared)
    test = subsample(dataset.splits["test"], max_samples, seed)
    texts, keywords, truth = [e.text for e in test], [e.keyword for e in test], [e.label for e in test]
    fp32 = Predictor(packages / FP32_DIR, version="fp32")
    int8 = Predictor(packages / INT8_DIR, version="int8")
    quant = compare_quantized(fp32, int8, texts, keywords, truth, dataset.positive_label, max_int8_f1_drop)
    invariance = batch_invariance(int8, texts, keywords, tolerance)
    checks = behaviour.standard_checks(
        lambda batch: int8.score(list(batch)).probabilities, texts[:300], dataset.labels, dataset.positive_label
    )
    _write_json(
        out / EVALUATION_FILE,
        {
            "int8": quant.int8.to_dict(),
            "fp32": quant.fp32.to_dict(),
            "f1_drop": quant.f1_drop,
            "label_agreement": quant.label_agreement,
            "quantization_passed": quant.passed,
            "batch_invariance": asdict(invariance),
            "batch_invariance_passed": invariance.passed,
            "behaviour": [asdict(c) for c in checks],
            "max_samples": max_samples,
            "seed": seed,
        },
    )
    if not quant.passed or not invariance.passed:
        raise ModelError(
            f"int8 F1 drop {quant.f1_drop:.4f} (allowed {max_int8_f1_drop}), batch invariance max diff "
            f"{invariance.max_difference:.1e} (allowed {tolerance:.0e}): not registering"
        )
    context.console.print(f"int8 F1 {quant.int8.f1:.4f} (fp32 {quant.fp32.f1:.4f})")


@app.command("register")
def register_stage(
    ctx: typer.Context,
    prepared: Annotated[Path, typer.Option(help="Output of the prepare stage.")],
    model: Annotated[Path, typer.Option(help="Output of the fine-tune stage.")],
    packages: Annotated[Path, typer.Option(help="Output of the export stage.")],
    evaluation: Annotated[Path, typer.Option(help="Output of the evaluate stage.")],
    out: Annotated[Path, typer.Option(help="Output folder: registration.json.")],
    reason: Annotated[str, typer.Option(help="Why this retraining ran.")] = "scheduled",
    git_commit: Annotated[str, typer.Option(help="Commit of the source (the job's snapshot has no .git).")] = "unknown",
) -> None:
    """Log the run to MLflow (the workspace), register the int8 package as `candidate`, gate it against production."""
    from dataclasses import replace

    from tweet_triage.model.package import PackageMeta
    from tweet_triage.model.predictor import Predictor
    from tweet_triage.model.registry import Registry
    from tweet_triage.training import lineage
    from tweet_triage.training.pipeline import HF_MODEL_ARTIFACT, _experiment, drift_reference

    context = cli_context(ctx)
    settings = context.settings
    if settings.mlflow.tracking_uri is None and os.environ.get("MLFLOW_TRACKING_URI"):
        # Inside an Azure ML job MLflow already points at the workspace.
        settings = settings.model_copy(
            update={"mlflow": settings.mlflow.model_copy(update={"tracking_uri": os.environ["MLFLOW_TRACKING_URI"]})}
        )
    dataset = _prepared(prepared)
    report = json.loads((evaluation / EVALUATION_FILE).read_text())
    tuned = json.loads((model / FINE_TUNED_FILE).read_text())
    registry = Registry(settings)
    client = registry.client
    commit = git_commit if git_commit != "unknown" else lineage.git_commit()
    run_id: str = client.create_run(
        _experiment(client, registry.experiment),
        tags={
            "mlflow.runName": f"azureml {dataset.version}",
            "dataset.version": dataset.version,
            "git.commit": commit,
            "tweet_triage.version": lineage.package_version(),
            "trigger": reason,
        },
    ).info.run_id
    try:
        for key, value in tuned["train_config"].items():
            client.log_param(run_id, key, "" if value is None else value)
        for key, value in report["int8"].items():
            if isinstance(value, int | float):
                client.log_metric(run_id, f"test.{key}", float(value))
        client.log_dict(run_id, report, "evaluation/report.json")
        client.log_artifacts(run_id, str(model / "hf"), HF_MODEL_ARTIFACT)
        meta = PackageMeta.read(packages / INT8_DIR)  # the package names the run that registered it
        replace(meta, lineage={**meta.lineage, "run_id": run_id, "git_commit": commit}).write(packages / INT8_DIR)
        int8 = Predictor(packages / INT8_DIR, version="candidate")
        drift_reference(int8, dataset, 1000, int(tuned["train_config"]["seed"])).save(packages / INT8_DIR)
        tags = {
            "dataset.version": dataset.version,
            "git.commit": commit,
            "run_id": run_id,
            "test.f1": f"{report['int8']['f1']:.4f}",
            "test.ece": f"{report['int8']['ece']:.4f}",
            "trigger": reason,
        }
        version = registry.register(run_id, packages / INT8_DIR, tags, description=f"azureml: {dataset.version}")
        gate = _gate(registry, version.version, dataset, report)
        client.log_text(run_id, gate.to_json(), "gate/gate_report.json")
        gate_tags = {"gate.passed": str(gate.passed).lower(), "gate.summary": gate.summary[:4000]}
        registry.set_tags(version.version, gate_tags)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    _write_json(out / REGISTRATION_FILE, {"version": version.version, "run_id": run_id, "gate_passed": gate.passed})
    context.console.print(f"registered v{version.version} (candidate); gate {'passed' if gate.passed else 'FAILED'}")


def _gate(registry: Any, version: str, dataset: Any, report: dict[str, Any]) -> Any:
    """The promotion gate, as `triage train` decides it: the candidate's own checks, and production on the same
    test tweets the evaluate stage used."""
    from tweet_triage.model.predictor import Predictor
    from tweet_triage.model.registry import PRODUCTION
    from tweet_triage.training.evaluate import evaluate
    from tweet_triage.training.finetune import subsample
    from tweet_triage.training.gate import GateCheck, decide

    production = registry.find(PRODUCTION)
    production_metrics = None
    if production is not None:
        test = subsample(dataset.splits["test"], report.get("max_samples"), int(report.get("seed", 42)))
        prod = Predictor(registry.download(production), version=production.version)
        probabilities = prod.score([e.text for e in test], [e.keyword for e in test]).probabilities
        production_metrics = evaluate(
            probabilities, [e.label for e in test], prod.labels, dataset.positive_label
        ).headline()
    checks = [
        GateCheck("int8 vs fp32", bool(report["quantization_passed"]), f"F1 drop {report['f1_drop']:+.4f}"),
        GateCheck("batch invariance", bool(report["batch_invariance_passed"]), "see evaluation/report.json"),
        *(GateCheck(c["name"], bool(c["passed"]), f"{c['score']:.3f}") for c in report["behaviour"]),
    ]
    return decide(
        candidate_version=version,
        candidate_metrics={k: float(report["int8"][k]) for k in HEADLINE_METRICS},
        production_version=production.version if production else None,
        production_metrics=production_metrics,
        own_checks=checks,
        max_f1_regression=0.0,
        max_ece=0.05,
    )
