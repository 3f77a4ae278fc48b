"""What `triage stack up | down | snapshot` do beyond starting and stopping processes: keep the results store.

* ``up``: start the services; if the Cosmos DB server was (re)started, restore the latest snapshot and rebuild from
  the topics what it lacks (:mod:`tweet_triage.store.recovery`); then keep taking snapshots in the
  background (app ``snapshots``, every ``TRIAGE_STACK__SNAPSHOT_EVERY_S``).
* ``down``: drain the topics first (:mod:`tweet_triage.app.drain`; refused when a consumer is missing, unless
  forced), stop the apps, take a final snapshot, stop the services; with ``purge`` delete the data folders after.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tweet_triage.app.drain import drain
from tweet_triage.app.stack import processes
from tweet_triage.app.stack.manager import StackManager, UpResult
from tweet_triage.app.stack.services import BROKER, COSMOS
from tweet_triage.errors import TriageError
from tweet_triage.settings import Settings, to_environment
from tweet_triage.store.recovery import RecoveryState, read_state, ready_for_snapshot, recover, write_state
from tweet_triage.store.snapshot import snapshot_dir, take_snapshot
from tweet_triage.stream.rebuild import rebuild

if TYPE_CHECKING:
    from tweet_triage.store.recovery import RecoveryReport

log = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"  # the background app that takes periodic snapshots

Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class StackUp:
    services: list[UpResult]
    recovery: RecoveryReport | None  # None: the store was not restarted, nothing to recover


def start_stack(settings: Settings, *, say: Say, progress: Progress | None = None) -> StackUp:
    manager = StackManager(settings)
    results = manager.up(on_event=say)
    cosmos = next(result for result in results if result.name == COSMOS)
    record = manager.record(COSMOS)
    assert record is not None  # up() returned: it is running and healthy
    recovery = None
    state = read_state(settings)
    if cosmos.started or state is None or abs(state.server_started_at - record.started_at) >= 1.0:
        if cosmos.started:
            say("cosmos: restoring the results store (snapshot, then what the topics hold beyond it)")
            recovery = recover(
                settings, server_started_at=record.started_at, rebuild=_rebuild(settings), on_progress=progress
            )
            say(f"cosmos: {recovery.summary()}")
        else:  # running since before this version kept records: its contents are what they are
            write_state(settings, RecoveryState("ready", record.started_at, detail="running since before"))
    elif state.in_progress:
        say(f"cosmos: {state.describe()} (another `stack up` is at it)")
    _start_snapshots(settings, manager, say)
    return StackUp(results, recovery)


def stop_stack(settings: Settings, *, say: Say, force: bool = False, progress: Progress | None = None) -> list[str]:
    """Drain, stop the apps, snapshot, stop the services. Returns the names of what was stopped."""
    manager = StackManager(settings, specs=[])
    if manager.record(BROKER) is not None:
        if force:
            say("not draining (--force): whatever is still in the topics stays unprocessed")
        else:
            processed = drain(
                settings,
                timeout_s=settings.stack.drain_timeout_s,
                on_progress=None if progress is None else lambda done, total: progress("draining", done, total),
            )
            say(f"drained: the worker and the monitor processed {processed:,} record(s) meanwhile")
    stopped = manager.down(on_event=say, before_services=lambda: final_snapshot(settings, manager, say))
    return list(stopped)


def final_snapshot(settings: Settings, manager: StackManager, say: Say) -> None:
    outcome = snapshot_if_ready(settings, manager)
    say(f"cosmos: {outcome}")


def snapshot_if_ready(settings: Settings, manager: StackManager) -> str:
    """Snapshot the store if its server runs and its recovery finished; says what happened."""
    record = manager.record(COSMOS)
    if record is None:
        return "not running, no snapshot taken (the previous one is kept)"
    if not ready_for_snapshot(settings, record.started_at):
        state = read_state(settings)
        why = state.describe() if state else "not recovered by `triage stack up`"
        return f"no snapshot taken: the store is not complete ({why}); the previous snapshot is kept"
    info = take_snapshot(settings)
    return f"snapshot of {info.total:,} item(s) in {snapshot_dir(settings)}"


def run_snapshots(settings: Settings, every_s: float) -> None:
    """Take a snapshot every ``every_s`` seconds until stopped (the ``snapshots`` app)."""
    manager = StackManager(settings, specs=[])
    while True:
        time.sleep(every_s)  # the snapshot interval itself
        try:
            log.info(snapshot_if_ready(settings, manager))
        except TriageError as exc:
            log.warning("snapshot failed, trying again in %.0f s: %s", every_s, exc)


def purge(settings: Settings) -> list[Path]:
    """Delete the data folders (the stack must be down). Returns the ones that existed."""
    existing = [path for path in StackManager(settings, specs=[]).data_folders() if path.exists()]
    for path in existing:
        shutil.rmtree(path)
    return existing


def _start_snapshots(settings: Settings, manager: StackManager, say: Say) -> None:
    every = settings.stack.snapshot_every_s
    if every <= 0 or manager.record(SNAPSHOTS) is not None:
        return
    triage = str(Path(sys.executable).with_name("triage"))
    argv = [triage, "stack", "snapshot", "--every", str(every)]
    log_file = manager.log_file(SNAPSHOTS)
    env = {**os.environ, **to_environment(settings)}
    record = processes.spawn(argv, log_file=log_file, cwd=Path.cwd(), env=env, port=0)
    record.write(manager.pid_file(SNAPSHOTS))
    say(f"snapshots: every {every:.0f} s (log: {log_file})")


def _rebuild(settings: Settings) -> Callable[[Progress], dict[str, int]]:
    """The rebuild from the topics that recovery runs after the restore: whatever the snapshot lacks."""

    def run(progress: Progress) -> dict[str, int]:
        return {report.container: report.written for report in rebuild(settings, on_progress=progress)}

    return run
