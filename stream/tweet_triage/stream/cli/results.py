"""`triage results count | tail | export`: read the stored predictions, through the dashboards' repository code;
`triage results rebuild`: write back from the topics what the store lacks."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from tweet_triage.cli.context import cli_context
from tweet_triage.cli.tables import Column, ListTable, WideOption, age
from tweet_triage.clock import utc_now
from tweet_triage.errors import UsageError
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.stream.rebuild import REBUILDABLE
from tweet_triage.stream.rebuild import rebuild as run_rebuild

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
            context.emit(json.dumps({"label": label, "count": total}) if as_json else str(total))
            return
        total = reader.count()
        by_label = reader.count_by_label()
    if as_json:
        context.emit(json.dumps({"total": total, "by_label": by_label}))
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
    wide: WideOption = False,
) -> None:
    """The most recently scored predictions, newest first."""
    context = cli_context(ctx)
    with PredictionReader.open(context.settings) as reader:
        records = reader.tail(n)
    if as_json:
        for record in records:
            context.emit(record.model_dump_json())
        return
    if not records:
        context.console.print("no predictions stored yet")
        return
    context.console.print(predictions_table(records, wide=wide, now=utc_now()))


def predictions_table(records: Sequence[PredictionRecord], *, wide: bool, now: datetime) -> ListTable:
    """The rows of `triage results tail`. The compact table gives the age instead of the time, leaves out the model
    and cuts the tweet to the width that is left."""
    table = ListTable(
        Column("age", "scored at (UTC)"),
        Column("id"),
        Column("label"),
        Column("conf", "confidence"),
        Column("model", compact=False),
        Column("text", text=True),
        wide=wide,
    )
    for record in records:
        text = record.text if not wide or len(record.text) <= 60 else record.text[:59] + "…"
        table.add_row(
            record.scored_at.strftime("%Y-%m-%d %H:%M:%S") if wide else age(record.scored_at, now),
            escape(record.id),
            escape(record.label),
            f"{record.confidence:.3f}" if wide else f"{record.confidence:.2f}",
            escape(f"{record.model_name} v{record.model_version}"),
            escape(text),
        )
    return table


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


_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``2026-12-01T10:00`` (UTC unless it says otherwise) or an age such as ``30m``, ``6h``, ``2d``."""
    match = _AGO.match(text.strip())
    if match:
        return (now or utc_now()) - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since {text!r} is neither an ISO-8601 time nor an age like 30m, 6h or 2d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("rebuild")
def rebuild(
    ctx: typer.Context,
    container: Annotated[
        list[str] | None,
        typer.Option("--container", "-c", help="predictions, feedback or alerts (repeatable; default: all three)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only records published since then: ISO-8601 time, or an age like 6h.")
    ] = None,
) -> None:
    """Write back from the topics every item the results store lacks or holds in an older state (idempotent)."""
    chosen = container or list(REBUILDABLE)
    unknown = sorted(set(chosen) - set(REBUILDABLE))
    if unknown:
        raise UsageError(f"--container {', '.join(unknown)}: choose from {', '.join(REBUILDABLE)}")
    moment = parse_since(since) if since else None
    context = cli_context(ctx)
    columns = (TextColumn("  reading {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=context.console, transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(topic: str, done: int, total: int) -> None:
            if topic not in tasks:
                tasks[topic] = bars.add_task(topic, total=max(total, 1))
            bars.update(tasks[topic], completed=done, total=max(total, done, 1))

        reports = run_rebuild(context.settings, containers=chosen, since=moment, on_progress=progress)
    for report in reports:
        context.console.print(report.line(), highlight=False)
