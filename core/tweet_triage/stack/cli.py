"""`triage stack install | up | down | status | logs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.errors import StackError
from tweet_triage.stack.install import install_cosmos_server
from tweet_triage.stack.manager import ServiceStatus, StackManager, State
from tweet_triage.stack.services import SERVICE_NAMES

app = typer.Typer(
    help="Run the local stand-ins for Event Hubs, Cosmos DB and MLflow on 127.0.0.1.", no_args_is_help=True
)

_STATE_STYLE = {State.RUNNING: "green", State.UNHEALTHY: "yellow", State.STOPPED: "red"}


def _manager(context: CliContext) -> StackManager:
    if context.settings.profile != "local":
        raise StackError("the local stack belongs to the local profile; unset TRIAGE_PROFILE or set it to 'local'")
    return StackManager(context.settings)


def print_status(context: CliContext, statuses: list[ServiceStatus]) -> None:
    table = Table(title="tweet-triage local stack", expand=False)
    for column in ("service", "state", "pid", "address", "log"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        table.add_row(
            status.name,
            Text(status.state.value, style=_STATE_STYLE[status.state]),
            str(status.pid or ""),
            status.url,
            Text(_short(status.log_file), style="dim"),
        )
    context.console.print(table)
    for status in statuses:
        if status.state is not State.RUNNING:
            context.console.print(Text(f"{status.name}: {status.detail}", style=_STATE_STYLE[status.state]))


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@app.command("install")
def install(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Reinstall even if present.")] = False,
) -> None:
    """Install the pinned Cosmos DB server (npm ci) into the project-local node folder."""
    context = cli_context(ctx)
    node_dir = context.settings.stack.resolved_node_dir
    with context.console.status(f"npm ci in {node_dir} ..."):
        installed = install_cosmos_server(node_dir, force=force)
    context.console.print(f"Cosmos DB server {'installed' if installed else 'already installed'} in {node_dir}")


@app.command("up")
def up(ctx: typer.Context) -> None:
    """Start the broker, the Cosmos DB server and MLflow; return once each passes its health check."""
    context = cli_context(ctx)
    manager = _manager(context)
    results = manager.up(on_event=lambda line: context.console.print(f"  {line}", highlight=False))
    started = sum(result.started for result in results)
    context.console.print(f"[green]stack up[/]: {started} started, {len(results) - started} already running")
    print_status(context, [result.status for result in results])


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the services this stack started (nothing else)."""
    context = cli_context(ctx)
    stopped = StackManager(context.settings, specs=[]).down(
        on_event=lambda line: context.console.print(f"  {line}", highlight=False)
    )
    context.console.print("stack down" if stopped else "nothing was running")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show each service's state, pid, address and log file. Exit code 1 if any is not running and healthy."""
    context = cli_context(ctx)
    statuses = _manager(context).status()
    print_status(context, statuses)
    if any(item.state is not State.RUNNING for item in statuses):
        raise typer.Exit(1)


@app.command("logs")
def logs(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Argument(help=f"One of: {', '.join(SERVICE_NAMES)} (default: all).")] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many lines from the end.")] = 40,
) -> None:
    """Print the end of a service's log."""
    context = cli_context(ctx)
    manager = StackManager(context.settings, specs=[])
    for name in [service] if service else list(SERVICE_NAMES):
        context.console.rule(f"{name}  ({manager.log_file(name)})")
        for line in manager.logs(name, lines=lines):
            context.console.print(Text(line))
