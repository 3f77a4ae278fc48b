"""`triage data ...`, `triage train`, `triage model ...`, `triage predict`, `triage audit model`."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.cli.options import policy_option
from tweet_triage.errors import DataError, UsageError

data_app = typer.Typer(help="Fetch and prepare labelled datasets.", no_args_is_help=True)
model_app = typer.Typer(help="List, promote and roll back model versions.", no_args_is_help=True)
audit_app = typer.Typer(help="Trace a model back to its data, code, metrics and approvals.", no_args_is_help=True)


def _prepared_root(context: CliContext) -> Path:
    return context.settings.data.data_dir / "prepared"


# ---- data ---------------------------------------------------------------------------------------------------------


@data_app.command("pull")
def data_pull(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. disaster-tweets.")],
    mirror: Annotated[
        Path | None, typer.Option(help="Local mirror folder (default: TRIAGE_DATA__MIRROR_DIR); tried before the URL.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if a verified copy exists.")] = False,
) -> None:
    """Fetch a known dataset by URL with a sha256 check, or copy it from a local mirror."""
    from tweet_triage.training.datasets import get_spec, pull

    context = cli_context(ctx)
    spec = get_spec(name)
    paths = pull(
        spec,
        data_dir=context.settings.data.data_dir,
        mirror_dir=mirror or context.settings.data.mirror_dir,
        force=force,
    )
    for path in paths:
        context.console.print(f"[green]verified[/] {path}")


@data_app.command("prepare")
def data_prepare(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A pulled dataset (default: disaster-tweets).")] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", help="Any labelled CSV instead of a known dataset.")
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Column with the tweet text.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Column with the label.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with a unique id (optional).")] = None,
    keyword_column: Annotated[str | None, typer.Option(help="Optional keyword/context column.")] = None,
    conflicts: Annotated[str, typer.Option(help="Duplicates with conflicting labels: majority | drop.")] = "majority",
    split_seed: Annotated[int, typer.Option(help="Seed of the stratified 70/15/15 split.")] = 0,
) -> None:
    """Validate, clean, deduplicate and split; writes a content-addressed dataset version and its data report."""
    from tweet_triage.training.datasets import get_spec, raw_dir, sha256_of
    from tweet_triage.training.prepare import ConflictPolicy, PrepareOptions, prepare, write

    context = cli_context(ctx)
    if conflicts not in ("majority", "drop"):
        raise UsageError(f"--conflicts must be 'majority' or 'drop', not {conflicts!r}")
    policy: ConflictPolicy = "majority" if conflicts == "majority" else "drop"
    if input_file is not None:
        if name is not None:
            raise UsageError("give either a dataset NAME or --input FILE, not both")
        path = input_file
        options = PrepareOptions(
            text_column=text_column or "text",
            label_column=label_column or "label",
            id_column=id_column,
            keyword_column=keyword_column,
            conflict_policy=policy,
            split_seed=split_seed,
        )
    else:
        spec = get_spec(name or "disaster-tweets")
        path = raw_dir(context.settings.data.data_dir, spec.name) / spec.main_file.name
        if not path.exists():
            raise DataError(f"{path} does not exist; run `triage data pull {spec.name}` first")
        options = PrepareOptions(
            text_column=text_column or spec.text_column,
            label_column=label_column or spec.label_column,
            id_column=id_column or spec.id_column,
            keyword_column=keyword_column or spec.keyword_column,
            label_names=spec.label_names,
            conflict_policy=policy,
            split_seed=split_seed,
        )
    dataset = write(prepare(path, options, sha256_of(path)), _prepared_root(context))
    report = dataset.report
    context.console.print(f"dataset [bold]{dataset.version}[/] in {dataset.path}")
    context.console.print(
        f"rows read {report.rows_read}, kept {report.rows_kept}, dropped {len(report.dropped)} "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(report.dropped_by_reason.items()))})"
    )
    table = Table("split", *dataset.labels)
    for split, counts in report.label_counts.items():
        table.add_row(split, *(str(counts.get(label, 0)) for label in dataset.labels))
    context.console.print(table)
    context.console.print(f"report: {dataset.path / 'report.md' if dataset.path else ''}")


def load_dataset(context: CliContext, version: str) -> Any:
    from tweet_triage.training.prepare import load, resolve

    return load(resolve(_prepared_root(context), version))


# ---- train --------------------------------------------------------------------------------------------------------


def train(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="Prepared dataset version, or 'latest'.")] = "latest",
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 3,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1e-2)] = 5e-5,
    batch_size: Annotated[int, typer.Option(min=1, max=512)] = 32,
    max_length: Annotated[int, typer.Option(min=8, max=512)] = 64,
    seed: Annotated[int, typer.Option()] = 42,
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5, help="Cross-entropy label smoothing.")] = 0.0,
    use_keyword: Annotated[bool, typer.Option(help="Prefix the text with the tweet's keyword.")] = True,
    quick: Annotated[bool, typer.Option(help="Quick profile: 2,000 tweets, one epoch (demo, smoke runs).")] = False,
    max_samples: Annotated[
        int | None, typer.Option(min=10, help="Train/evaluate on at most N tweets per split.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimizer steps.")] = None,
    quantization: Annotated[
        str,
        typer.Option(
            help="Quantization candidates to study: 'auto' (the default set; a short one with --quick), 'all', or "
            "names separated by commas (fp32 is always measured as the reference). The rule picks what ships."
        ),
    ] = "auto",
    reason: Annotated[str, typer.Option(help="Why this training runs (recorded on the run).")] = "manual",
    operating_point: Annotated[
        str | None,
        typer.Option(
            callback=lambda v: None if v is None else policy_option(v),
            help="How the decision threshold is chosen on the validation split: f2 (recall weighs twice), f1, or "
            "recall>=R (the best precision with recall >= R). Default: the setting retrain.operating_point (f2).",
        ),
    ] = None,
    keyword_dropout: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Augmentation: drop the keyword with this probability.")
    ] = 0.0,
    augment_noise: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Augmentation: hashtag, typo and case noise, each with this probability."),
    ] = 0.0,
) -> None:
    """Fine-tune, export, quantize, evaluate and register a new `candidate` version."""
    from tweet_triage.training.finetune import TrainConfig, quick_profile
    from tweet_triage.training.pipeline import PipelineConfig, run_pipeline
    from tweet_triage.training.quantization.study import study_config

    context = cli_context(ctx)
    study = study_config(quantization, quick=quick)
    train_config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
        label_smoothing=label_smoothing,
        use_keyword=use_keyword,
        max_samples=max_samples,
        max_steps=max_steps,
        keyword_dropout=keyword_dropout,
        augment_noise=augment_noise,
    )
    if quick:
        train_config = replace(quick_profile(), seed=seed, use_keyword=use_keyword)
    policy = operating_point or context.settings.retrain.operating_point
    config = PipelineConfig(
        train=train_config, study=study, gate=context.settings.gate, trigger=reason, operating_point=policy
    )
    data = load_dataset(context, dataset)
    result = run_pipeline(
        context.settings, data, config, on_stage=lambda stage: context.console.print(f"[cyan]▶[/] {stage}")
    )
    test = result.test
    context.console.print(
        f"\nregistered [bold]{result.version.name} v{result.version.version}[/] (alias candidate), run {result.run_id}"
    )
    context.console.print(
        f"test at the operating point ({policy}, p >= {test.threshold if test.threshold is not None else 'argmax'}): "
        f"F1 {test.f1:.4f}  F2 {test.f2:.4f}  precision {test.precision:.4f}  recall {test.recall:.4f}  |  "
        f"ROC-AUC {test.roc_auc:.4f}  PR-AUC {test.pr_auc:.4f}  ECE {test.ece:.4f}"
    )
    context.console.print(study_table(result.study))
    for q, inv in result.shipped:
        context.console.print(
            f"{q.graph} vs fp32 on the test split: F1 {q.int8.f1:.4f} vs {q.fp32.f1:.4f}, label agreement "
            f"{q.label_agreement:.4f}; batch invariance max diff {inv.max_difference:.1e}"
        )
    style = "green" if result.gate.passed else "yellow"
    context.console.print(
        Text(f"gate: {'PASSED' if result.gate.passed else 'FAILED'} — {result.gate.summary}", style=style)
    )


def study_table(study: Any) -> Table:
    """The quantization study as a table for the terminal (the same rows as its markdown in the MLflow run)."""
    table = Table(*study.table_header(), title=f"quantization study on {study.cpu.describe()}", title_justify="left")
    chosen = study.selection.chosen if study.selection else None
    for row in study.table_rows():
        table.add_row(*row, style="bold green" if row[0] == chosen else None)
    return table


# ---- model --------------------------------------------------------------------------------------------------------


def _registry(context: CliContext) -> Any:
    from tweet_triage.model.registry import Registry

    return Registry(context.settings)


@model_app.command("list")
def model_list(ctx: typer.Context) -> None:
    """Every registered version with its aliases, gate result and key metrics."""
    context = cli_context(ctx)
    versions = _registry(context).versions()
    if not versions:
        context.console.print("no model versions yet; run `triage train`")
        return
    table = Table(
        "version", "aliases", "gate", "operating point (validation P/R)", "test F1", "ECE", "dataset", "created"
    )
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            Text("pass" if v.gate_passed else "fail", style="green" if v.gate_passed else "red"),
            operating_point_cell(v.tags),
            v.tags.get("test.f1", ""),
            v.tags.get("test.ece", ""),
            v.tags.get("dataset.version", ""),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created_ms / 1000)),
        )
    context.console.print(table)


def operating_point_cell(tags: dict[str, str]) -> str:
    """``f2: p >= 0.310 (P 0.71 / R 0.93)`` from a version's tags; "most probable label" before operating points."""
    if "operating_point.threshold" not in tags:
        return "most probable label"
    return (
        f"{tags.get('operating_point.policy', '?')}: p >= {float(tags['operating_point.threshold']):.3f} "
        f"(P {float(tags.get('operating_point.precision', 'nan')):.2f} / "
        f"R {float(tags.get('operating_point.recall', 'nan')):.2f})"
    )


@model_app.command("promote")
def model_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number to put into production.")],
    approver: Annotated[str, typer.Option(help="Who approves (recorded).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    override: Annotated[str | None, typer.Option(help="Promote despite a failed gate; give the reason.")] = None,
) -> None:
    """Point `production` at VERSION: needs a passed gate or an explicit override; recorded in the approval log."""
    from tweet_triage.training.pipeline import approval_log
    from tweet_triage.training.promotion import promote

    context = cli_context(ctx)
    if not version.isdigit():
        raise UsageError(f"VERSION must be a version number, not {version!r}")
    registry = _registry(context)
    record = promote(
        registry, approval_log(registry), version=version, approver=approver, reason=reason, override_reason=override
    )
    replaced = f" (replacing v{record.replaced_version})" if record.replaced_version else ""
    context.console.print(f"[green]v{record.version} is in production{replaced}[/], approved by {record.approver}")


@model_app.command("rollback")
def model_rollback(
    ctx: typer.Context,
    approver: Annotated[str, typer.Option(help="Who decides (recorded).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Put the previous production version back; recorded in the approval log."""
    from tweet_triage.training.pipeline import approval_log
    from tweet_triage.training.promotion import rollback

    context = cli_context(ctx)
    registry = _registry(context)
    record = rollback(registry, approval_log(registry), approver=approver, reason=reason)
    context.console.print(
        f"[yellow]rolled back[/]: v{record.version} is in production again (was v{record.replaced_version})"
    )


@model_app.command("quantization-study")
def model_quantization_study(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number or alias whose fp32 weights to study.")] = "production",
    quantization: Annotated[
        str, typer.Option(help="Candidates: auto (the training default), all, or names separated by commas.")
    ] = "all",
    tweets: Annotated[int, typer.Option(min=50, help="Tweets each graph is timed on per pass.")] = 1000,
    repeats: Annotated[int, typer.Option(min=1, max=20, help="Timed passes per graph and batch size.")] = 3,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the study as JSON here.")] = None,
) -> None:
    """Run the quantization study on this machine for a registered version (its training run's fp32 weights, its
    dataset's validation tweets) and print the table; registers nothing."""
    import tempfile
    from dataclasses import replace as with_changes

    from tweet_triage.model.package import PackageMeta
    from tweet_triage.training.packaging import STAGING_DIR, staging_package
    from tweet_triage.training.quantization.study import run_study, study_config
    from tweet_triage.training.stages import HF_MODEL_ARTIFACT, calibration_tweets, study_tweets

    context = cli_context(ctx)
    registry = _registry(context)
    mv = registry.get(version)
    if mv.run_id is None:
        raise UsageError(f"v{mv.version} has no training run to take the fp32 weights from")
    study = with_changes(study_config(quantization), speed_tweets=tweets, repeats=repeats)
    dataset = load_dataset(context, mv.tags.get("dataset.version", "latest"))
    meta = PackageMeta.read(registry.download(mv))
    with tempfile.TemporaryDirectory(prefix="tweet-triage-study-") as tmp:
        from tweet_triage.training import export

        hf_dir = Path(registry.client.download_artifacts(mv.run_id, HF_MODEL_ARTIFACT, tmp))
        staging = Path(tmp) / STAGING_DIR
        staging_package(staging, export.export_onnx(hf_dir, Path(tmp) / "onnx"), hf_dir, meta)
        report = run_study(
            staging,
            validation=study_tweets(dataset, None, 42),
            calibration=calibration_tweets(dataset, study.calibration_tweets, 42),
            config=study,
            positive_label=meta.positive_label,
            on_step=lambda step: context.err.print(f"[cyan]▶[/] {step}"),
        )
    context.console.print(study_table(report))
    context.console.print(
        f"chosen: {report.selection.chosen}; would ship: {', '.join(report.selection.shipped)}"
        if report.selection
        else f"no candidate satisfies the rule: {report.problem}"
    )
    if json_out is not None:
        json_out.write_text(report.to_json(), encoding="utf-8")


@model_app.command("approvals")
def model_approvals(
    ctx: typer.Context,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the hash chain (deleted runs included) against the registry's history and the production "
            "alias; exit 1 naming the first broken or missing record.",
        ),
    ] = False,
) -> None:
    """The approval log, oldest first; with --verify, whether anyone tampered with it."""
    from tweet_triage.model.approval_chain import ChainBroken, verify_chain
    from tweet_triage.model.registry import PRODUCTION
    from tweet_triage.training.pipeline import approval_log

    context = cli_context(ctx)
    registry = _registry(context)
    log = approval_log(registry)
    entries = log.entries()
    table = Table("#", "when (UTC)", "action", "version", "replaced", "approver", "reason", "gate", "override")
    for entry in entries:
        r = entry.record
        if r is None:
            table.add_row("?", "", Text("unreadable", style="red"), "", "", "", entry.problem or "", "", "")
            continue
        seq = str(r.seq) if r.seq is not None else "-"
        action = Text(f"{r.action.value}{' (deleted)' if entry.deleted else ''}", style="red" if entry.deleted else "")
        replaced = r.replaced_version or ""
        if r.moves_production and r.alias_before != r.replaced_version:
            replaced += f" (alias was at {r.alias_before or 'nothing'})"
        where = f" → {r.slot}" if r.slot else ""
        table.add_row(
            seq,
            str(r.to_dict()["at_iso"]),
            action,
            f"{r.version}{where}",
            replaced,
            r.approver,
            r.reason,
            "pass" if r.gate_passed else "fail",
            r.override_reason or "",
        )
    context.console.print(table)
    if not verify:
        return
    production = registry.find(PRODUCTION)
    report = verify_chain(entries, log.anchors(), production.version if production else None)
    for note in report.notes:
        context.console.print(f"[dim]note:[/] {note}")
    if report.ok:
        head = f"; production v{report.head.version} ({report.head.label})" if report.head else ""
        context.console.print(f"[green]the approval log is intact[/]: {report.records} chained record(s){head}")
        return
    for problem in report.problems:
        context.err.print(Text.assemble(("broken: ", "bold red"), problem.message), highlight=False)
    first = report.first
    assert first is not None
    raise ChainBroken(f"the approval log does not verify: {first.message}")


# ---- predict ------------------------------------------------------------------------------------------------------


def predict(
    ctx: typer.Context,
    texts: Annotated[list[str] | None, typer.Argument(help="Tweets to score.")] = None,
    model: Annotated[str, typer.Option(help="Version number or alias.")] = "production",
    input_file: Annotated[Path | None, typer.Option("--input", help="CSV of tweets to score.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --input.")] = "text",
    output: Annotated[Path | None, typer.Option(help="Write JSON lines here instead of stdout.")] = None,
) -> None:
    """Print label, confidence, per-class probabilities and model version, one JSON object per tweet."""
    from tweet_triage.model.predictor import Predictor

    context = cli_context(ctx)
    rows = _predict_rows(texts, input_file, text_column)
    registry = _registry(context)
    version = registry.get(model)
    predictor = Predictor(registry.download(version), version=version.version)
    results = predictor.predict([r["text"] for r in rows], [r.get("keyword") for r in rows])
    lines = [
        json.dumps({**{k: v for k, v in r.items() if k in ("id", "text")}, **p.to_dict()}, ensure_ascii=False)
        for r, p in zip(rows, results, strict=True)
    ]
    if output is not None:
        output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        context.err.print(f"wrote {len(lines)} predictions to {output}")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def _predict_rows(texts: list[str] | None, input_file: Path | None, text_column: str) -> list[dict[str, str]]:
    import csv

    if texts and input_file:
        raise UsageError("give tweets as arguments or --input FILE, not both")
    if texts:
        if any(not t.strip() for t in texts):
            raise UsageError("a tweet to score must not be blank")
        return [{"text": t} for t in texts]
    if input_file is None:
        raise UsageError("nothing to score: give tweets as arguments or --input FILE.csv")
    try:
        with input_file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if text_column not in (reader.fieldnames or []):
                raise UsageError(
                    f"{input_file}: no column {text_column!r}; it has: {', '.join(reader.fieldnames or [])}"
                )
            rows = [{k: v or "" for k, v in row.items() if k is not None} for row in reader]
    except OSError as exc:
        raise UsageError(f"{input_file}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{input_file}: not UTF-8") from None
    blank = [i for i, row in enumerate(rows, start=1) if not row[text_column].strip()]
    if blank:
        raise UsageError(f"{input_file}: row {blank[0]} has a blank {text_column!r}")
    return [{**row, "text": row[text_column]} for row in rows]


# ---- audit --------------------------------------------------------------------------------------------------------


@audit_app.command("model")
def audit_model(ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version number or alias.")]) -> None:
    """Dataset version and report, training run, git commit, metrics and approvals of one model version."""
    from tweet_triage.model.package import PackageMeta
    from tweet_triage.training.pipeline import approval_log

    context = cli_context(ctx)
    registry = _registry(context)
    mv = registry.get(version)
    run = registry.client.get_run(mv.run_id) if mv.run_id else None
    package = registry.download(mv)
    meta = PackageMeta.read(package)
    report: dict[str, Any] = {
        "model": mv.name,
        "version": mv.version,
        "aliases": list(mv.aliases),
        "dataset_version": mv.tags.get("dataset.version"),
        "git_commit": mv.tags.get("git.commit"),
        "training_run": mv.run_id,
        "gate": {"passed": mv.gate_passed, "summary": mv.gate.summary if mv.gate else None},
        "operating_point": meta.operating_point,
        "languages": meta.languages,
        "metrics": dict(sorted(run.data.metrics.items())) if run else {},
        "params": dict(sorted(run.data.params.items())) if run else {},
        "approvals": [r.to_dict() for r in approval_log(registry).history(mv.version)],
        "quantization": quantization_audit(package),
    }
    if run is not None:
        try:
            report["data_report"] = _load_json_artifact(registry, run.info.run_id, "data/report.json")
        except Exception:
            report["data_report"] = None
    context.console.print_json(json.dumps(report, default=str))


def quantization_audit(package: Path) -> dict[str, Any]:
    """What the package says about its graphs: the chosen and shipped ones, the CPU they were measured on, the rule
    and the study's table (every candidate with its speed, accuracy against fp32, invariance and verdict)."""
    from tweet_triage.model.package import PackageMeta
    from tweet_triage.training.packaging import STUDY_FILE

    meta = PackageMeta.read(package)
    audit: dict[str, Any] = {
        "graphs": [{"name": g.name, "portable": g.portable, "scheme": g.scheme, **g.evaluation} for g in meta.graphs],
        "built_on": meta.built_on,
    }
    study_file = package / STUDY_FILE
    if study_file.exists():
        study = json.loads(study_file.read_text(encoding="utf-8"))
        audit.update(
            chosen=(study.get("selection") or {}).get("chosen"),
            shipped=(study.get("selection") or {}).get("shipped"),
            rule=study.get("rule"),
            study=study.get("measurements"),
            not_eligible=(study.get("selection") or {}).get("reasons"),
        )
    return audit


def _load_json_artifact(registry: Any, run_id: str, path: str) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        local = registry.client.download_artifacts(run_id, path, tmp)
        data: dict[str, Any] = json.loads(Path(local).read_text())
    data["dropped_rows"] = len(data.pop("dropped", []))
    return data
