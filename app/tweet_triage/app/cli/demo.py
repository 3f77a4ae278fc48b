"""`triage demo`: the whole pipeline on the local stack (what `make demo` runs)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel

from tweet_triage.app.demo import DemoSummary, run_demo
from tweet_triage.app.stack.usage import budget_ms
from tweet_triage.cli.context import cli_context
from tweet_triage.cli.tables import key_value_table
from tweet_triage.training.finetune import quick_profile


def demo(
    ctx: typer.Context,
    rate: Annotated[float, typer.Option(min=1, help="Tweets per second offered by the producer.")] = 200.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay only the first N tweets.")] = None,
    worker_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the worker's /healthz and /metrics.")
    ] = 16066,
    bootstrap_samples: Annotated[
        int | None,
        typer.Option(
            min=100,
            help="Train the bootstrap model (only when there is no production model) on this many tweets instead of "
            f"the quick profile's {quick_profile().max_samples:,}: faster, less accurate.",
        ),
    ] = None,
) -> None:
    """Stack up, make sure a production model exists, start the worker, replay the dataset, summarise."""
    context = cli_context(ctx)
    say = lambda line: context.console.print(f"[cyan]▶[/] {escape(line)}", highlight=False)  # noqa: E731
    summary = run_demo(
        context.settings,
        rate=rate,
        limit=limit,
        worker_port=worker_port,
        say=say,
        bootstrap_samples=bootstrap_samples,
    )
    table = key_value_table(title="tweet-triage demo")
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
    if summary.cpu is not None:
        cores = os.cpu_count() or 1
        budget = budget_ms(cores, summary.offered_rate)
        table.add_row(
            "CPU per tweet",
            f"{summary.cpu.total_ms:.1f} ms (what {summary.offered_rate:.0f}/s leaves on {cores} cores: "
            f"{budget:.1f} ms)",
        )
        for name, ms in summary.cpu.ms.items():
            table.add_row(f"  {name}", f"{ms:.1f} ms")
    table.add_row("model", f"v{summary.model_version}")
    context.console.print(table)
    context.console.print(Panel.fit(next_steps(summary, context.settings.mlflow_tracking_uri), title="next"))
    if summary.stored < summary.published:
        raise typer.Exit(1)


def next_steps(summary: DemoSummary, mlflow_uri: str) -> Group:
    """Where to look while the stack runs: one address or command a line, values wrapped to the terminal."""
    links = key_value_table(grid=True)
    for name, where in (
        ("relief dashboard", summary.dashboard_url),
        ("scoring API", f"{summary.api_url}/docs"),
        ("triaged tweets", "triage results tail -n 10   |   triage results count"),
        ("worker health", f"{summary.worker_url}/healthz"),
        ("worker metrics", f"{summary.worker_url}/metrics"),
        ("drift & accuracy", "triage alerts list"),
        ("", "(the replay is in file order, sorted by keyword:"),
        ("", "expect a drift incident and a recorded retraining"),
        ("", "request — see docs/runbook.md)"),
        ("monitor metrics", f"{summary.monitor_url}/metrics"),
        ("MLflow", f"{mlflow_uri} (runs, registry, approvals)"),
        ("lineage", "triage audit model production"),
        ("more tweets", "triage publish FILE.csv --rate 50"),
    ):
        links.add_row(f"  • {name}:" if name else "", escape(where))
    return Group("Still running — have a look:", links, "Stop everything:   triage stack down")
