"""`triage demo`: the whole pipeline on the local stack (what `make demo` runs)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from tweet_triage.app.demo import run_demo
from tweet_triage.cli.context import cli_context


def demo(
    ctx: typer.Context,
    rate: Annotated[float, typer.Option(min=1, help="Tweets per second offered by the producer.")] = 200.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay only the first N tweets.")] = None,
    worker_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the worker's /healthz and /metrics.")
    ] = 16066,
) -> None:
    """Stack up, make sure a production model exists, start the worker, replay the dataset, summarise."""
    context = cli_context(ctx)
    say = lambda line: context.console.print(f"[cyan]▶[/] {line}", highlight=False)  # noqa: E731
    summary = run_demo(context.settings, rate=rate, limit=limit, worker_port=worker_port, say=say)
    table = Table(title="tweet-triage demo", show_header=False)
    table.add_row("tweets published", str(summary.published))
    table.add_row("predictions stored", str(summary.stored))
    for label, count in sorted(summary.labels.items()):
        table.add_row(f"  labelled {label}", str(count))
    table.add_row("dead letters", str(summary.dead_letters))
    table.add_row("throughput", f"{summary.throughput:.0f} tweets/s (offered {summary.offered_rate:.0f}/s)")
    table.add_row("publish → stored", f"p50 {summary.p50_s * 1000:.0f} ms, p99 {summary.p99_s * 1000:.0f} ms")
    table.add_row(
        "the stream", f"[green]{summary.verdict}[/]" if summary.kept_up else f"[bold red]{summary.verdict}[/]"
    )
    table.add_row("model", f"v{summary.model_version}")
    context.console.print(table)
    settings = context.settings
    context.console.print(
        Panel.fit(
            "Still running — have a look:\n"
            f"  • relief dashboard: {summary.dashboard_url}\n"
            f"  • scoring API:      {summary.api_url}/docs\n"
            f"  • triaged tweets:   triage results tail -n 10   |   triage results count\n"
            f"  • worker health:    {summary.worker_url}/healthz   metrics: {summary.worker_url}/metrics\n"
            f"  • drift & accuracy: triage alerts list   |   monitor {summary.monitor_url}/metrics\n"
            "    (the replay is in file order, sorted by keyword: expect a drift incident and a recorded retraining\n"
            "    request — see docs/runbook.md)\n"
            f"  • MLflow (runs, registry, approvals): {settings.mlflow_tracking_uri}\n"
            f"  • lineage:          triage audit model production\n"
            f"  • more tweets:      triage publish FILE.csv --rate 50\n"
            "Stop everything:   triage stack down",
            title="next",
        )
    )
    if summary.stored < summary.published:
        raise typer.Exit(1)
