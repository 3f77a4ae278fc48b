"""`triage model list | promote | rollback | quantization-study | approvals`; :func:`open_registry` is the
commands' handle on the model registry."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace as with_changes
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.cli.tables import Column, ListTable, WideOption, short_number, short_time
from tweet_triage.clock import utc_now
from tweet_triage.errors import UsageError
from tweet_triage.model.approval_chain import ChainBroken, verify_chain
from tweet_triage.model.approvals import ApprovalLog, LogEntry
from tweet_triage.model.package import PackageMeta
from tweet_triage.model.registry import PRODUCTION, ModelVersion, Registry
from tweet_triage.training import export
from tweet_triage.training.cli.data import load_dataset
from tweet_triage.training.cli.train import study_table
from tweet_triage.training.packaging import STAGING_DIR, staging_package
from tweet_triage.training.promotion import promote, rollback
from tweet_triage.training.quantization.study import run_study, study_config
from tweet_triage.training.stages import HF_MODEL_ARTIFACT, calibration_tweets, study_tweets

model_app = typer.Typer(help="List, promote and roll back model versions.", no_args_is_help=True)


def open_registry(context: CliContext) -> Any:
    """The model registry the settings name (MLflow is imported only by the commands that need it)."""
    return Registry(context.settings)


@model_app.command("list")
def model_list(ctx: typer.Context, wide: WideOption = False) -> None:
    """Every registered version with its aliases, gate result and key metrics."""
    context = cli_context(ctx)
    versions = open_registry(context).versions()
    if not versions:
        context.console.print("no model versions yet; run `triage train`")
        return
    context.console.print(versions_table(versions, wide=wide, now=datetime.now()))


def versions_table(versions: Sequence[ModelVersion], *, wide: bool, now: datetime) -> ListTable:
    """The rows of `triage model list`; ``now`` (local time) decides how short the creation dates are."""
    table = ListTable(
        Column("ver", "version"),
        Column("aliases"),
        Column("gate"),
        Column("operating point", "operating point (validation P/R)", text=True),
        Column("F1", "test F1"),
        Column("ECE"),
        Column("dataset", compact=False),
        Column("created"),
        wide=wide,
    )
    for v in versions:
        created = datetime.fromtimestamp(v.created_ms / 1000)
        f1, ece = v.tags.get("test.f1", ""), v.tags.get("test.ece", "")
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            Text("pass" if v.gate_passed else "fail", style="green" if v.gate_passed else "red"),
            operating_point_cell(v.tags) if wide else short_operating_point(v.tags),
            f1 if wide else short_number(f1),
            ece if wide else short_number(ece),
            v.tags.get("dataset.version", ""),
            created.strftime("%Y-%m-%d %H:%M") if wide else short_time(created, now),
        )
    return table


def operating_point_cell(tags: dict[str, str]) -> str:
    """``f2: p >= 0.310 (P 0.71 / R 0.93)`` from a version's tags; "most probable label" before operating points."""
    if "operating_point.threshold" not in tags:
        return "most probable label"
    return (
        f"{tags.get('operating_point.policy', '?')}: p >= {float(tags['operating_point.threshold']):.3f} "
        f"(P {float(tags.get('operating_point.precision', 'nan')):.2f} / "
        f"R {float(tags.get('operating_point.recall', 'nan')):.2f})"
    )


def approvals_table(entries: Sequence[LogEntry], *, wide: bool, now: datetime) -> ListTable:
    """The rows of `triage model approvals`; the compact table puts the override and a resolved alias move after the
    reason."""
    table = ListTable(
        Column("#"),
        Column("when (UTC)"),
        Column("action"),
        Column("ver", "version"),
        Column("was", "replaced"),
        Column("by", "approver", squeeze=True),
        Column("reason", text=True),
        Column("gate"),
        Column("override", compact=False),
        wide=wide,
    )
    for entry in entries:
        r = entry.record
        if r is None:
            table.add_row("?", "", Text("unreadable", style="red"), "", "", "", escape(entry.problem or ""), "", "")
            continue
        seq = str(r.seq) if r.seq is not None else "-"
        action = Text(f"{r.action.value}{' (deleted)' if entry.deleted else ''}", style="red" if entry.deleted else "")
        alias_note = ""
        if r.moves_production and r.alias_before != r.replaced_version:
            alias_note = f"alias was at {r.alias_before or 'nothing'}"
        where = f" → {r.slot}" if r.slot else ""
        at = datetime.fromtimestamp(r.at, UTC)
        notes = ([f"override: {r.override_reason}"] if r.override_reason else []) + ([alias_note] if alias_note else [])
        reason = r.reason if wide else "; ".join([r.reason, *notes])
        table.add_row(
            seq,
            str(r.to_dict()["at_iso"]) if wide else short_time(at, now),
            action,
            f"{r.version}{where}",
            (r.replaced_version or "") + (f" ({alias_note})" if wide and alias_note else ""),
            escape(r.approver),
            escape(reason),
            "pass" if r.gate_passed else "fail",
            escape(r.override_reason or ""),
        )
    return table


def short_operating_point(tags: dict[str, str]) -> str:
    """``f2 ≥0.310 P0.71 R0.93``: the operating point in about 20 columns; "most probable" before operating points."""
    if "operating_point.threshold" not in tags:
        return "most probable"
    threshold = short_number(tags["operating_point.threshold"], 3)
    precision, recall = (short_number(tags.get(f"operating_point.{key}", "nan")) for key in ("precision", "recall"))
    return f"{tags.get('operating_point.policy', '?')} ≥{threshold} P{precision} R{recall}"


@model_app.command("promote")
def model_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number to put into production.")],
    approver: Annotated[str, typer.Option(help="Who approves (recorded).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    override: Annotated[str | None, typer.Option(help="Promote despite a failed gate; give the reason.")] = None,
) -> None:
    """Point `production` at VERSION: needs a passed gate or an explicit override; recorded in the approval log."""
    context = cli_context(ctx)
    if not version.isdigit():
        raise UsageError(f"VERSION must be a version number, not {version!r}")
    registry = open_registry(context)
    record = promote(
        registry,
        ApprovalLog.beside(registry),
        version=version,
        approver=approver,
        reason=reason,
        override_reason=override,
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
    context = cli_context(ctx)
    registry = open_registry(context)
    record = rollback(registry, ApprovalLog.beside(registry), approver=approver, reason=reason)
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
    context = cli_context(ctx)
    registry = open_registry(context)
    mv = registry.get(version)
    if mv.run_id is None:
        raise UsageError(f"v{mv.version} has no training run to take the fp32 weights from")
    study = with_changes(study_config(quantization), speed_tweets=tweets, repeats=repeats)
    dataset = load_dataset(context, mv.tags.get("dataset.version", "latest"))
    meta = PackageMeta.read(registry.download(mv))
    with tempfile.TemporaryDirectory(prefix="tweet-triage-study-") as tmp:
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
    wide: WideOption = False,
) -> None:
    """The approval log, oldest first; with --verify, whether anyone tampered with it."""
    context = cli_context(ctx)
    registry = open_registry(context)
    log = ApprovalLog.beside(registry)
    entries = log.entries()
    context.console.print(approvals_table(entries, wide=wide, now=utc_now()))
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
