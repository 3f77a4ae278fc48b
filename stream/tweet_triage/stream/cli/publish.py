"""`triage publish FILE.csv`: send tweets from a CSV file to the ``tweets`` topic."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tweet_triage.broker.topics import ensure_topics
from tweet_triage.cli.context import cli_context
from tweet_triage.errors import PublishError
from tweet_triage.settings import Settings
from tweet_triage.stream.producer.csv_source import DEFAULT_TEXT_COLUMN, CsvSummary, CsvTweetSource
from tweet_triage.stream.producer.eventhubs import EventHubsPublisher
from tweet_triage.stream.producer.kafka import KafkaPublisher
from tweet_triage.stream.producer.run import Publisher, PublishReport, publish_events


class Target(StrEnum):
    KAFKA = "kafka"
    EVENTHUBS = "eventhubs"


def publish(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV file with a header row and a text column.")],
    rate: Annotated[
        float | None, typer.Option(min=0.01, help="Send at most N tweets per second (default: as fast as possible).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Send only the first N tweets.")] = None,
    to: Annotated[
        Target,
        typer.Option(
            help="kafka: the Kafka protocol (local broker or Event Hubs' Kafka endpoint); "
            "eventhubs: the Event Hubs AMQP client."
        ),
    ] = Target.KAFKA,
    text_column: Annotated[str, typer.Option(help="Column with the tweet text.")] = DEFAULT_TEXT_COLUMN,
    id_column: Annotated[
        str | None, typer.Option(help="Column with the tweet id (default: 'id' if present, else a stable hash).")
    ] = None,
) -> None:
    """Check every row, then publish each tweet as a JSON event keyed by its id; report sent and failed."""
    context = cli_context(ctx)
    source = CsvTweetSource(file, text_column=text_column, id_column=id_column, limit=limit)
    summary = source.validate()  # nothing is sent unless every row is fine
    settings = context.settings
    publisher = _publisher(settings, to)
    ids = f"ids from column {summary.id_column!r}" if summary.id_column else "hashed ids"
    context.err.print(f"publishing {summary.rows} tweet(s) from {file} ({ids}) to {publisher.destination}")
    report = asyncio.run(_run(settings, to, source, summary, publisher, rate, context.err))
    line = (
        f"sent {report.sent}, failed {report.failed}"
        + (f", not attempted {report.not_attempted}" if report.not_attempted else "")
        + f" in {report.elapsed_s:.1f} s ({report.rate:.0f} tweets/s) to {publisher.destination}"
    )
    context.console.print(line, highlight=False)
    if summary.duplicate_ids:
        context.console.print(f"{summary.duplicate_ids} row(s) repeated an earlier id (stored once)", highlight=False)
    if report.failed or report.not_attempted:
        reasons = "; ".join(f"{count}× {error}" for error, count in report.errors.most_common(3))
        raise PublishError(f"{report.failed + report.not_attempted} of {summary.rows} tweet(s) not sent: {reasons}")


def _publisher(settings: Settings, to: Target) -> Publisher:
    if to is Target.EVENTHUBS:
        return EventHubsPublisher.from_settings(settings)
    return KafkaPublisher(settings)


async def _run(
    settings: Settings,
    to: Target,
    source: CsvTweetSource,
    summary: CsvSummary,
    publisher: Publisher,
    rate: float | None,
    console: Console,
) -> PublishReport:
    if to is Target.KAFKA and not settings.kafka.uses_eventhubs:
        await ensure_topics(settings, names=[settings.kafka.topic_tweets])
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("publishing", total=summary.rows, failed=0)

        def advance(sent: int, failed: int) -> None:
            progress.update(task, completed=sent + failed, failed=failed)

        async with publisher:
            return await publish_events(source.events(), publisher, rate=rate, on_progress=advance)
