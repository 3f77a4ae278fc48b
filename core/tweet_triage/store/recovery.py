"""Bringing a fresh local results store back: restore the latest snapshot, then rebuild from the topics what it lacks.

``triage stack up`` runs :func:`recover` whenever it started the Cosmos DB server (after ``stack down``, a reboot or a
crash of the server alone). Its progress is written to ``STATE_DIR/run/store-recovery.json`` as it goes, which
``triage stack status`` and the dashboard read: they say when the store is being restored or rebuilt and how far it is.
The record also names the Cosmos DB server process it belongs to, and snapshots are only taken of a store whose
recovery finished (:func:`ready_for_snapshot`): a half-restored store never replaces a complete snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final, Literal

from tweet_triage.clock import utc_now
from tweet_triage.settings import Settings
from tweet_triage.store.snapshot import RestoreReport, restore_snapshot

log = logging.getLogger(__name__)

STATE_FILE: Final = "store-recovery.json"

Phase = Literal["restoring", "rebuilding", "ready", "failed"]


@dataclass(frozen=True)
class RecoveryState:
    phase: Phase
    server_started_at: float  # the Cosmos DB server process (pid file start time) this is about
    step: str = ""  # container (restoring) or topic (rebuilding)
    done: int = 0
    total: int = 0
    detail: str = ""
    updated_at: str = ""

    @property
    def in_progress(self) -> bool:
        return self.phase in ("restoring", "rebuilding")

    def describe(self) -> str:
        """One line for people: what the store is doing and how far it is."""
        where = f" {self.step}" if self.step else ""
        if self.phase == "restoring":
            return f"restoring the snapshot:{where} {self.done:,} of {self.total:,} items"
        if self.phase == "rebuilding":
            return f"rebuilding from the topics:{where} {self.done:,} of at least {self.total:,} records read"
        if self.phase == "failed":
            return f"recovery failed: {self.detail}"
        return self.detail or "ready"


def state_path(settings: Settings) -> Path:
    return settings.stack.state_dir.resolve() / "run" / STATE_FILE


def read_state(settings: Settings) -> RecoveryState | None:
    try:
        data = json.loads(state_path(settings).read_text(encoding="utf-8"))
        return RecoveryState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(settings: Settings, state: RecoveryState) -> RecoveryState:
    stamped = replace(state, updated_at=utc_now().isoformat(timespec="seconds"))
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(stamped)), encoding="utf-8")
    tmp.replace(path)
    return stamped


def ready_for_snapshot(settings: Settings, server_started_at: float) -> bool:
    """True if the store served by that server process is complete (its recovery finished)."""
    state = read_state(settings)
    return state is not None and state.phase == "ready" and abs(state.server_started_at - server_started_at) < 1.0


Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class RecoveryReport:
    restore: RestoreReport
    rebuilt: dict[str, int]  # container -> items written from the topics

    def summary(self) -> str:
        snapshot = self.restore.snapshot
        restored = sum(self.restore.created.values())
        parts = [
            f"restored {restored:,} item(s) from the snapshot of {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC"
            if snapshot
            else "no snapshot to restore"
        ]
        rebuilt = sum(self.rebuilt.values())
        parts.append(f"rebuilt {rebuilt:,} item(s) from the topics" if rebuilt else "nothing missing from the topics")
        return "; ".join(parts)


def recover(
    settings: Settings,
    *,
    server_started_at: float,
    rebuild: Callable[[Progress], dict[str, int]] | None = None,
    on_progress: Progress | None = None,
) -> RecoveryReport:
    """Restore the snapshot into the fresh server, then run ``rebuild`` (what the topics hold beyond it).

    Progress goes to the state file; on any error the state says ``failed`` with the reason and the error propagates.
    """
    state = write_state(settings, RecoveryState("restoring", server_started_at))
    try:

        def restoring(container: str, done: int, total: int) -> None:
            write_state(settings, replace(state, step=container, done=done, total=total))
            if on_progress is not None:
                on_progress(f"restoring {container}", done, total)

        restored = restore_snapshot(settings, on_progress=restoring)
        rebuilt: dict[str, int] = {}
        if rebuild is not None:
            rebuilding = replace(state, phase="rebuilding")

            def reading(topic: str, done: int, total: int) -> None:
                write_state(settings, replace(rebuilding, step=topic, done=done, total=total))
                if on_progress is not None:
                    on_progress(f"rebuilding from {topic}", done, total)

            write_state(settings, rebuilding)
            rebuilt = rebuild(reading)
        report = RecoveryReport(restored, rebuilt)
    except Exception as exc:
        write_state(settings, RecoveryState("failed", server_started_at, detail=f"{type(exc).__name__}: {exc}"[:500]))
        raise
    write_state(settings, RecoveryState("ready", server_started_at, detail=report.summary()))
    return report
