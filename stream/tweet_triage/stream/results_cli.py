"""`triage results count | tail | export`: read the stored predictions, through the dashboards' repository code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tweet_triage.cli.context import cli_context
from tweet_triage.errors import UsageError
from tweet_triage.stream.store.reader import PredictionReader

app = typer.Typer(help="Read triage results (predictions) from the results store.", no_args_is_help=True)


@app.command("count")
def count(
    ctx: typer.Context,
    label: Annotated[str | None, typer.Option(help="Count only predictions with this label.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many predictions are stored, in total and per label (or for one label: just the number)."""
    context = cli_context(ctx)
    with PredictionReader.open(context.settings) as reader:
        if label is not None:
            total = reader.count(label)
            context.console.print(json.dumps({"label": label, "count": total}) if as_json else str(total))
            return
        total = reader.count()
        by_label = reader.count_by_label()
    if as_json:
        context.console.print(json.dumps({"total": total, "by_label": by_label}))
        return
    table = Table("label", "predictions")
    for name, n in by_label.items():
        table.add_row(name, str(n))
    other = total - sum(by_label.values())
    if other:
        table.add_row("(labels of older models)", str(other))
    table.add_row("[bold]total[/]", f"[bold]{total}[/]")
    context.console.print(table)


@app.command("tail")
def tail(
    ctx: typer.Context,
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=10_000, help="How many predictions.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The most recently scored predictions, newest first."""
    context = cli_context(ctx)
    with PredictionReader.open(context.settings) as reader:
        records = reader.tail(n)
    if as_json:
        for record in records:
            context.console.print(record.model_dump_json(), highlight=False, soft_wrap=True)
        return
    if not records:
        context.console.print("no predictions stored yet")
        return
    table = Table("scored at (UTC)", "id", "label", "confidence", "model", "text")
    for record in records:
        table.add_row(
            record.scored_at.strftime("%Y-%m-%d %H:%M:%S"),
            record.id,
            record.label,
            f"{record.confidence:.3f}",
            f"{record.model_name} v{record.model_version}",
            record.text if len(record.text) <= 60 else record.text[:59] + "…",
        )
    context.console.print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Output file (JSON lines); replaced when the export is complete.")],
) -> None:
    """Write every stored prediction to FILE as JSON lines, oldest first."""
    context = cli_context(ctx)
    if not file.parent.is_dir():
        raise UsageError(f"{file.parent} is not an existing folder")
    if file.is_dir():
        raise UsageError(f"{file} is a folder; give a file name such as predictions.jsonl")
    with PredictionReader.open(context.settings) as reader:
        written = reader.export(file)
    context.console.print(f"exported {written} prediction(s) to {file}", highlight=False)
