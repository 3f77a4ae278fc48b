"""`triage config show`: the effective settings, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tweet_triage.cli.context import cli_context
from tweet_triage.settings import describe

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print every setting with the environment variable that changes it (secrets masked)."""
    context = cli_context(ctx)
    rows = describe(context.settings)
    if as_json:
        context.console.print_json(json.dumps({row.variable: row.value for row in rows}))
        return
    table = Table(title=f"tweet-triage settings (profile: {context.settings.profile})")
    table.add_column("variable", style="cyan", no_wrap=True)
    table.add_column("value")
    for row in rows:
        table.add_row(row.variable, Text(row.value, style="yellow" if row.secret else ""))
    context.console.print(table)
