"""`triage dlq list | show | replay`: look at the dead letters in ``tweets-dlq`` and send them back once fixed.

Reading goes through :class:`~tweet_triage.broker.topic_reader.TopicReader` (no consumer group, nothing committed);
what replay sends and skips is decided in :mod:`tweet_triage.stream.replay`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tweet_triage.broker.kafka_sender import KafkaSender
from tweet_triage.broker.topic_reader import ReadProgress, TopicReader, read_record
from tweet_triage.broker.topics import existing_topics
from tweet_triage.cli.context import cli_context
from tweet_triage.cli.tables import Column, ListTable, WideOption, short_time
from tweet_triage.clock import format_utc, parse_since, utc_now
from tweet_triage.contracts.tweets import RejectReason
from tweet_triage.errors import StoreOutage, UsageError
from tweet_triage.settings import Settings
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import Backoff, RetryPolicy
from tweet_triage.stream.replay import (
    LetterEntry,
    LetterFilter,
    Listing,
    ReplayReport,
    ReplayTarget,
    parse_letter_id,
    replay_letters,
)

app = typer.Typer(help="Dead letters: list, inspect and replay what the stream refused.", no_args_is_help=True)

ReasonOption = Annotated[
    list[RejectReason] | None,
    typer.Option("--reason", help="Only letters with this reason (repeat for several).", case_sensitive=False),
]
SinceOption = Annotated[
    str | None, typer.Option(help="Only letters written since: an ISO-8601 time or an age such as 30m, 2h, 7d.")
]


@app.command("list")
def list_letters(
    ctx: typer.Context,
    reason: ReasonOption = None,
    since: SinceOption = None,
    limit: Annotated[
        int, typer.Option("-n", "--limit", min=1, max=100_000, help="How many to show, oldest first.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    wide: WideOption = False,
) -> None:
    """The dead letters, oldest first, with counts by reason over all that match."""
    context = cli_context(ctx)
    settings = context.settings
    listing = Listing(_filter(reason, since), limit)
    exists = asyncio.run(_survey(settings, listing, context.err)) is not None
    if as_json:
        for entry in listing.shown:
            row = {"id": entry.id, **entry.letter.summary(), "superseded_by": listing.superseded.get(entry.id)}
            context.emit(json.dumps(row, ensure_ascii=False))
        return
    topic = settings.kafka.topic_dlq
    if not exists:
        context.console.print(f"no dead letters: topic {topic!r} does not exist yet", highlight=False)
        return
    if not listing.matched:
        context.console.print(f"no dead letters in {topic!r} match", highlight=False)
        return
    context.console.print(letters_table(listing, wide=wide, now=utc_now()))
    reasons = ", ".join(f"{name} {n}" for name, n in listing.by_reason.most_common())
    context.console.print(
        f"{len(listing.shown)} of {listing.matched} matching letter(s) shown; by reason: {reasons}"
        + (f"; {listing.unreadable} record(s) were not dead letters" if listing.unreadable else ""),
        highlight=False,
    )


def letters_table(listing: Listing, *, wide: bool, now: datetime) -> ListTable:
    """The rows of `triage dlq list`. The compact table leaves out the source position and the tweet id and says
    "superseded by" at the start of the message."""
    table = ListTable(
        Column("id"),
        Column("when (UTC)", "dead-lettered (UTC)"),
        Column("reason"),
        Column("source", compact=False),
        Column("tweet id", compact=False),
        Column("message", text=True),
        wide=wide,
    )
    for entry in listing.shown:
        letter = entry.letter
        by = listing.superseded.get(entry.id)
        superseded = f"(superseded by {by})" if by else ""
        if wide:
            when = f"{letter.dead_lettered_at:%Y-%m-%d %H:%M:%S}"
            reason, message = f"{letter.reason} {superseded}".rstrip(), _short(letter.message, 70)
        else:  # the message is cut to fit, so what superseded the letter goes first
            when = short_time(letter.dead_lettered_at, now)
            reason, message = str(letter.reason), f"{superseded} {letter.message}".lstrip()
        table.add_row(
            entry.id,
            when,
            reason,
            escape(f"{letter.topic} {letter.partition}:{letter.offset}"),
            escape(_short(letter.tweet_id or "", 24)),
            escape(message),
        )
    return table


@app.command("show")
def show_letter(
    ctx: typer.Context,
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="PARTITION:OFFSET, as `triage dlq list` shows it.")],
    as_json: Annotated[bool, typer.Option("--json", help="The letter as stored (value and key in base64).")] = False,
) -> None:
    """Everything about one dead letter: why, where from, the raw value and key, the headers."""
    context = cli_context(ctx)
    settings = context.settings
    place = parse_letter_id(letter_id)
    if place is None:
        raise UsageError(f"{letter_id!r} is not a letter id; ids look like 0:17 (PARTITION:OFFSET)")
    record = asyncio.run(read_record(settings, settings.kafka.topic_dlq, *place))
    entry = LetterEntry.from_record(record) if record is not None else None
    if entry is None:
        raise UsageError(f"no dead letter {letter_id} in {settings.kafka.topic_dlq!r}; `triage dlq list` shows them")
    letter = entry.letter
    if as_json:
        context.emit(letter.to_json().decode())
        return
    console = context.console
    console.print(f"[bold]{entry.id}[/] {letter.reason}: {escape(letter.message)}")
    console.print(
        f"source: {escape(letter.topic)} partition {letter.partition} offset {letter.offset}", highlight=False
    )
    console.print(
        f"dead-lettered at {format_utc(letter.dead_lettered_at)}; broker timestamp "
        f"{format_utc(letter.source_timestamp) if letter.source_timestamp else letter.source_timestamp_ms}",
        highlight=False,
    )
    if letter.tweet_id:
        console.print(f"tweet id: {escape(letter.tweet_id)}", highlight=False)
    if letter.replay_of:
        console.print(f"a replay of letter {letter.replay_of} (run {letter.replay_run})", highlight=False)
    console.print(f"key: {_bytes_view(letter.key, letter.key_size, letter.key_truncated, letter.key_sha256)}")
    console.print(f"value: {_bytes_view(letter.raw, letter.raw_size, letter.raw_truncated, letter.raw_sha256)}")
    for header in letter.headers:
        console.print(
            f"header {escape(header.name)!s}: {_bytes_view(header.value, header.value_size, header.truncated)}"
        )
    if letter.headers_truncated:
        console.print("(more headers, or longer ones, were not kept)")


@app.command("replay")
def replay(
    ctx: typer.Context,
    reason: ReasonOption = None,
    since: SinceOption = None,
    limit: Annotated[
        int | None, typer.Option("-n", "--limit", min=1, help="Replay at most N letters, oldest first.")
    ] = None,
    to: Annotated[
        str | None, typer.Option(metavar="TOPIC", help="Send to this topic instead of the tweets topic.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Send even letters superseded by a later one or whose tweet is already stored.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be sent; send nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Send dead letters back to the tweets topic (or TOPIC) once their cause is fixed; report sent and refused again.

    Idempotent: a letter whose tweet is already stored is not sent again, and the same tweet id upserts the same
    prediction. A letter the current contract refuses is not sent; if its reason changed, a new letter records it.
    """
    context = cli_context(ctx)
    settings = context.settings
    kafka = settings.kafka
    target = ReplayTarget(
        source_topic=kafka.topic_tweets,
        target_topic=to or kafka.topic_tweets,
        dlq_topic=kafka.topic_dlq,
        run_id=uuid.uuid4().hex,
    )
    letter_filter = _filter(reason, since, source_topic=kafka.topic_tweets)
    report, exists = asyncio.run(_replay(settings, target, letter_filter, limit, force, dry_run, context.err))
    if as_json:
        body = _report_json(report, target, dry_run)
        context.emit(json.dumps(body, ensure_ascii=False))
        return
    if not exists:
        context.console.print(f"nothing to replay: topic {kafka.topic_dlq!r} does not exist yet", highlight=False)
        return
    _print_report(context.console, report, target, dry_run)


# ---- plumbing -----------------------------------------------------------------------------------------------------


def _filter(reasons: list[RejectReason] | None, since: str | None, *, source_topic: str | None = None) -> LetterFilter:
    when: datetime | None = None
    if since is not None:
        try:
            when = parse_since(since, now=utc_now())
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
    return LetterFilter(frozenset(str(r) for r in reasons or ()), when, source_topic)


def _progress(console: Console, what: str) -> Progress:
    return Progress(
        TextColumn(f"[progress.description]{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


async def _survey(settings: Settings, listing: Listing, console: Console) -> dict[int, int] | None:
    """Feed every record of the dead-letter topic to ``listing``; return where the read ended per partition (the
    bound of a second pass), or None if the topic does not exist."""
    async with TopicReader(settings, settings.kafka.topic_dlq) as reader:
        with _progress(console, "reading dead letters") as progress:
            task = progress.add_task("read", total=reader.expected or None)

            def advance(state: ReadProgress) -> None:
                progress.update(task, completed=state.read, total=max(state.expected, state.read) or None)

            async for record in reader.records(on_progress=advance):
                listing.add(record)
        return dict(reader.read_up_to) if reader.exists else None


async def _replay(
    settings: Settings,
    target: ReplayTarget,
    letter_filter: LetterFilter,
    limit: int | None,
    force: bool,
    dry_run: bool,
    console: Console,
) -> tuple[ReplayReport, bool]:
    # Pass 1: which letters are superseded, and how many match (the progress bar's total). Pass 2 replays exactly
    # what pass 1 saw, so letters written meanwhile (by the worker, or by this replay) wait for the next run.
    if target.target_topic not in await existing_topics(settings):
        raise UsageError(f"topic {target.target_topic!r} does not exist at {settings.kafka_bootstrap}; create it first")
    survey = Listing(letter_filter, limit=0)
    positions = await _survey(settings, survey, console)
    if positions is None:
        return ReplayReport(), False
    total = min(survey.matched, limit) if limit is not None else survey.matched
    sender = KafkaSender(settings, linger_ms=5)
    await sender.start()
    try:
        async with TopicReader(settings, settings.kafka.topic_dlq, stop_at=positions) as reader:
            with _progress(console, "replaying") as progress:
                task = progress.add_task("replay", total=total or None)

                async def entries() -> AsyncIterator[LetterEntry]:
                    async for record in reader.records():
                        entry = LetterEntry.from_record(record)
                        if entry is not None and letter_filter.matches(entry.letter):
                            yield entry

                report = await replay_letters(
                    entries(),
                    target=target,
                    superseded=set(survey.superseded),
                    sender=sender,
                    lookup=lambda ids: asyncio.to_thread(_stored, settings, ids),
                    policy=RetryPolicy(max_attempts=8, backoff=Backoff(initial_s=0.5, max_s=5.0)),
                    now=utc_now(),
                    limit=limit,
                    force=force,
                    dry_run=dry_run,
                    on_progress=lambda done, _: progress.update(task, completed=done),
                )
    finally:
        await sender.stop()
    return report, True


def _stored(settings: Settings, tweet_ids: Sequence[str]) -> dict[str, PredictionRecord]:
    """The stored predictions of these tweets; none when the store has no database yet (nothing is stored)."""
    try:
        with PredictionReader.open(settings) as reader:
            return reader.find(tweet_ids)
    except StoreOutage as exc:
        if exc.schema_missing:
            return {}
        raise


def _report_json(report: ReplayReport, target: ReplayTarget, dry_run: bool) -> dict[str, Any]:
    return {
        "to": target.target_topic,
        "run": target.run_id,
        "dry_run": dry_run,
        "considered": report.considered,
        "sent": report.sent,
        "already_stored": report.already_stored,
        "refused_again": dict(report.refused_again),
        "new_verdicts_recorded": report.recorded,
        "superseded": report.superseded,
        "truncated": report.truncated,
        "other_topics": dict(report.other_topic),
        "refusals": [vars(refusal) for refusal in report.refusals],
    }


def _print_report(console: Console, report: ReplayReport, target: ReplayTarget, dry_run: bool) -> None:
    if not report.considered:
        console.print("no dead letters match; nothing replayed", highlight=False)
        return
    refused = sum(report.refused_again.values())
    reasons = ", ".join(f"{name} {n}" for name, n in report.refused_again.most_common())
    parts = [
        f"{'would send' if dry_run else 'sent'} {report.sent}",
        f"already stored {report.already_stored}",
        f"refused again {refused}" + (f" ({reasons})" if reasons else ""),
    ]
    if report.superseded:
        parts.append(f"superseded by a later letter {report.superseded}")
    if report.truncated:
        parts.append(f"too large to have been kept whole {report.truncated}")
    if report.other_topic:
        parts.append("about other topics " + ", ".join(f"{t} {n}" for t, n in report.other_topic.items()))
    console.print(
        f"{report.considered} letter(s) to {target.target_topic!r} (run {target.run_id[:8]}): " + "; ".join(parts),
        highlight=False,
    )
    if report.recorded:
        console.print(f"{report.recorded} letter(s) refused for a new reason: new letters record it", highlight=False)
    news = [r for r in report.refusals if r.was != r.now]  # the same reason again is no news: the letter says so
    for refusal in news:
        message = escape(_short(refusal.message, 100))
        console.print(f"  {refusal.letter_id} {refusal.now} (was {refusal.was}): {message}")
    if news and len(report.refusals) < refused:
        console.print("  (the first refusals only; `--json` lists them with their messages)", highlight=False)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bytes_view(data: bytes | None, size: int, truncated: bool, sha256: str | None = None) -> str:
    if data is None:
        return "(none)"
    try:
        shown = repr(_short(data.decode("utf-8"), 2_000))
    except UnicodeDecodeError:
        shown = "base64 " + _short(base64.b64encode(data).decode("ascii"), 2_000)
    facts = [f"{size} bytes"] + (["cut"] if truncated else []) + ([f"sha256 {sha256[:16]}…"] if sha256 else [])
    return f"{escape(shown)} ({', '.join(facts)})"
