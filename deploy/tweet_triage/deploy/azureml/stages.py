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
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.cli.options import policy_option
from tweet_triage.errors import DataError, ModelError
from tweet_triage.model.operating_point import DEFAULT_POLICY

app = typer.Typer(help="Pipeline stages run by Azure ML components (folders in, folders out).", no_args_is_help=True)

FINE_TUNED_FILE = "fine_tuned.json"
EVALUATION_FILE = "evaluation.json"
REGISTRATION_FILE = "registration.json"
FP32_DIR, INT8_DIR = "fp32", "int8"
HEADLINE_METRICS = ("f1", "f2", "precision", "recall", "accuracy", "roc_auc", "pr_auc", "ece")


class StudySize(StrEnum):
    """How much of the quantization study the export stage runs (quick: smoke runs of the pipeline)."""

    FULL = "full"
    QUICK = "quick"


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
    """Export to ONNX and run the quantization study (`triage train`'s own code); writes the fp32 reference package
    and the package that ships (the graphs the rule selected on this node's CPU)."""
    from tweet_triage.model.package import PackageMeta, graph_file
    from tweet_triage.training import export
    from tweet_triage.training.finetune import TrainConfig
    from tweet_triage.training.packaging import build_packages, staging_package
    from tweet_triage.training.pipeline import calibration_tweets, package_operating_point, study_tweets
    from tweet_triage.training.quantization.rule import NoEligibleGraph
    from tweet_triage.training.quantization.schemes import REFERENCE
    from tweet_triage.training.quantization.study import study_config

    context = cli_context(ctx)
    study = study_config(quantization, quick=study_size is StudySize.QUICK)
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
    work = out / "_work"
    try:
        built = build_packages(
            hf_dir,
            work,
            meta,
            validation=study_tweets(dataset, config.max_samples, config.seed),
            calibration=calibration_tweets(dataset, study.calibration_tweets, config.seed),
            config=study,
            on_step=context.console.print,
        )
    except NoEligibleGraph as exc:
        raise ModelError(f"{exc}: nothing to register") from exc
    package_operating_point(built.package, dataset, operating_point, config)
    staging_package(out / FP32_DIR, built.staging / graph_file(REFERENCE), hf_dir, built.meta)
    export.remove_tree(out / INT8_DIR)
    built.package.rename(out / INT8_DIR)
    export.remove_tree(work)
    context.console.print(built.study.to_markdown())
    context.console.print(f"packages in {out / FP32_DIR} and {out / INT8_DIR}")


@app.command("evaluate")
def evaluate_stage(
    ctx: typer.Context,
    prepared: Annotated[Path, typer.Option(help="Output of the prepare stage.")],
    packages: Annotated[Path, typer.Option(help="Output of the export stage.")],
    out: Annotated[Path, typer.Option(help="Output folder for the evaluation report.")],
    max_samples: Annotated[int | None, typer.Option(min=10, help="Evaluate on at most N test tweets.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --max-samples subset.")] = 42,
) -> None:
    """Every shipped graph against fp32 on the test split (the quantization rule), behavioural checks; fails when a
    shipped graph breaks the rule."""
    from tweet_triage.model.package import PackageMeta
    from tweet_triage.model.predictor import Predictor
    from tweet_triage.training import behaviour
    from tweet_triage.training.finetune import subsample
    from tweet_triage.training.pipeline import quantization_checks
    from tweet_triage.training.quality import check_graphs
    from tweet_triage.training.quantization.rule import QuantizationRule
    from tweet_triage.training.quantization.schemes import REFERENCE

    context = cli_context(ctx)
    dataset = _prepared(prepared)
    test = subsample(dataset.splits["test"], max_samples, seed)
    texts, keywords, truth = [e.text for e in test], [e.keyword for e in test], [e.label for e in test]
    fp32 = Predictor(packages / FP32_DIR, version="fp32", graph=REFERENCE)
    names = PackageMeta.read(packages / INT8_DIR).graph_names
    shipped = check_graphs(
        fp32, packages / INT8_DIR, names, texts, keywords, truth, dataset.positive_label, QuantizationRule()
    )
    chosen = Predictor(packages / INT8_DIR, version="int8", graph=names[0])
    checks = behaviour.standard_checks(
        lambda batch: chosen.score(list(batch)).probabilities, texts[:300], dataset.labels, dataset.positive_label
    )
    quant = shipped[0][0]
    _write_json(
        out / EVALUATION_FILE,
        {
            "int8": quant.int8.to_dict(),
            "fp32": quant.fp32.to_dict(),
            "graphs": [{"quantization": asdict(q), "batch_invariance": asdict(i)} for q, i in shipped],
            "quantization_checks": [asdict(check) for check in quantization_checks(shipped)],
            "behaviour": [asdict(c) for c in checks],
            "max_samples": max_samples,
            "seed": seed,
        },
    )
    broken = [f"{c.name}: {c.detail}" for c in quantization_checks(shipped) if not c.passed]
    if broken:
        raise ModelError("shipped graphs break the quantization rule on the test split: " + "; ".join(broken))
    context.console.print(f"{quant.graph} F1 {quant.int8.f1:.4f} (fp32 {quant.fp32.f1:.4f})")


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
        production_metrics = evaluate(  # production at its own operating point
            probabilities, [e.label for e in test], prod.labels, dataset.positive_label, prod.operating_point
        ).headline()
    checks = [
        *(GateCheck(**check) for check in report["quantization_checks"]),
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
