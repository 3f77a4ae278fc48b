"""`triage stack install | up | down | status | logs`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from tweet_triage.app.stack.install import install_cosmos_server
from tweet_triage.app.stack.lifecycle import purge as purge_folders
from tweet_triage.app.stack.lifecycle import run_snapshots, snapshot_if_ready, start_stack, stop_stack
from tweet_triage.app.stack.manager import ServiceStatus, StackManager, State
from tweet_triage.app.stack.services import SERVICE_NAMES
from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.errors import StackError, UsageError
from tweet_triage.store.recovery import read_state
from tweet_triage.store.snapshot import SnapshotInfo, snapshot_dir

if TYPE_CHECKING:
    from tweet_triage.store.recovery import RecoveryState

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


def _say(context: CliContext) -> Callable[[str], None]:
    return lambda line: context.console.print(f"  {line}", highlight=False)


@contextmanager
def _progress(context: CliContext) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar per task (draining, restoring a container, reading a topic), shown while it runs."""
    columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=context.console, transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bars.add_task(what, total=max(total, 1))
            bars.update(tasks[what], completed=done, total=max(total, done, 1))

        yield update


def _store_line(state: RecoveryState | None, snapshot: SnapshotInfo | None) -> str:
    taken = (
        f"last snapshot {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC ({snapshot.total:,} items)"
        if snapshot
        else "no snapshot yet"
    )
    if state is None:
        return f"results store: not recovered by `triage stack up` yet; {taken}"
    return f"results store: {state.describe()}; {taken}"


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
    """Start the object store, broker, Cosmos DB server and MLflow; restore the results store if its server was
    restarted (snapshot, then the topics); return once everything is healthy."""
    context = cli_context(ctx)
    _manager(context)  # the profile check
    with _progress(context) as progress:
        result = start_stack(context.settings, say=_say(context), progress=progress)
    started = sum(item.started for item in result.services)
    context.console.print(f"[green]stack up[/]: {started} started, {len(result.services) - started} already running")
    print_status(context, [item.status for item in result.services])


@app.command("down")
def down(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Stop without waiting for the worker and monitor to process the topics.")
    ] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Then delete the data folders: topics, store snapshots, MLflow, state.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --purge deletes anything.")] = False,
) -> None:
    """Drain the topics, stop what this stack started (apps first), snapshot the results store, stop the services."""
    context = cli_context(ctx)
    manager = StackManager(context.settings, specs=[])
    folders = [path for path in manager.data_folders() if path.exists()] if purge else []
    if folders and not yes:
        listing = "\n".join(f"  {path}" for path in folders)
        context.console.print(f"--purge deletes, after stopping the stack:\n{listing}", highlight=False)
        if not typer.confirm("Delete them for good?", default=False):
            raise UsageError("nothing stopped, nothing deleted")
    with _progress(context) as progress:
        stopped = stop_stack(context.settings, say=_say(context), force=force, progress=progress)
    context.console.print("stack down" if stopped else "nothing was running")
    if purge:
        deleted = purge_folders(context.settings)
        context.console.print(f"purged {len(deleted)} data folder(s)" if deleted else "no data folders to purge")


@app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    every: Annotated[
        float | None,
        typer.Option(min=1, help="Keep taking one every EVERY seconds until stopped (what `stack up` starts)."),
    ] = None,
) -> None:
    """Snapshot the local results store to STATE_DIR/cosmos now (only a store whose recovery finished)."""
    context = cli_context(ctx)
    manager = _manager(context)
    if every is not None:
        run_snapshots(context.settings, every)
        return
    context.console.print(snapshot_if_ready(context.settings, manager), highlight=False)


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Each service's state, pid, address and log; the broker's storage; the results store (restoring, rebuilding,
    ready) and its last snapshot. Exit code 1 if any service is not running and healthy."""
    context = cli_context(ctx)
    statuses = _manager(context).status()
    print_status(context, statuses)
    stack = context.settings.stack
    storage = f"durable, in {stack.state_dir.resolve() / 'objects'}" if stack.durable_broker else "memory only"
    store = _store_line(read_state(context.settings), SnapshotInfo.read(snapshot_dir(context.settings)))
    context.console.print(f"broker storage: {storage}\n{store}", highlight=False)
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
