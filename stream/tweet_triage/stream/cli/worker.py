"""`triage worker`: run the stream scoring worker."""

from __future__ import annotations

from typing import Annotated

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.errors import UsageError
from tweet_triage.stream.shadow import shadow_settings
from tweet_triage.stream.worker import WorkerOptions, run_worker


def worker(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option(min=1, max=1024, help="Most tweets per micro-batch.")] = 64,
    batch_window: Annotated[float, typer.Option(min=0.01, max=10, help="Seconds to wait for a batch to fill.")] = 0.2,
    model_poll: Annotated[float, typer.Option(min=0.5, help="Seconds between checks of the production alias.")] = 5.0,
    web_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of /healthz and /metrics.")] = 16066,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions for topics the worker creates.")] = 2,
    concurrency: Annotated[int, typer.Option(min=1, max=8, help="Agent instances (batches in flight).")] = 1,
    scoring_threads: Annotated[
        int, typer.Option(min=1, max=64, help="Cores the model may use (the event loop needs CPU too).")
    ] = 2,
    shadow: Annotated[
        str | None,
        typer.Option(
            metavar="VERSION",
            help="Shadow mode: score a copy of the stream with model VERSION (own consumer group) into the shadow "
            "container only; publishes nothing. Compare with `triage model compare-shadow VERSION`.",
        ),
    ] = None,
) -> None:
    """Consume tweets, score them with the production model, store predictions; runs until stopped."""
    context = cli_context(ctx)
    if shadow is not None and not shadow.isdigit():
        raise UsageError(f"--shadow needs a version number (not an alias that can move), not {shadow!r}")
    options = WorkerOptions(
        batch_size=batch_size,
        batch_window_s=batch_window,
        model_poll_s=model_poll,
        web_host=context.settings.stack.host,
        web_port=web_port,
        partitions=partitions,
        concurrency=concurrency,
        scoring_threads=scoring_threads,
        shadow_version=shadow,
    )
    run_worker(shadow_settings(context.settings, shadow) if shadow else context.settings, options)
