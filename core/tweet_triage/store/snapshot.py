"""Snapshots of the results store to files, and their restore — through the Cosmos DB SDK, never the server's insides.

The local ``@vercel/cosmosdb-server`` keeps everything in memory; ``triage stack`` snapshots every container to
``STATE_DIR/cosmos/<database>/<container>.jsonl`` (one item per line, Cosmos DB's system properties left out) at
``stack down`` and every ``TRIAGE_STACK__SNAPSHOT_EVERY_S``, and restores the latest snapshot when ``stack up``
starts a fresh server. Each file is written to a temporary name and renamed, and ``manifest.json`` (time and counts)
last, so a crash mid-snapshot leaves the previous complete file of each container.

A restore *creates* items and leaves any item that already exists alone (409): whatever the running system wrote
into the fresh server since it came back is newer than the snapshot. Works against real Cosmos DB too (a copy of an
account's data to files and back), but there backups and the rebuild from the topics are the tools.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from azure.cosmos.exceptions import CosmosResourceNotFoundError

from tweet_triage.clock import utc_now
from tweet_triage.errors import StoreError
from tweet_triage.settings import Settings
from tweet_triage.store.bulk import write_all
from tweet_triage.store.cosmos import container_specs, ensure_schema, open_client, translate_errors
from tweet_triage.store.records import item_body

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy

log = logging.getLogger(__name__)

MANIFEST: Final = "manifest.json"

Progress = Callable[[str, int, int], None]  # (container, done, total)


def snapshot_dir(settings: Settings) -> Path:
    """Where the snapshots of the configured database live."""
    return settings.stack.state_dir.resolve() / "cosmos" / settings.cosmos.database


@dataclass(frozen=True)
class SnapshotInfo:
    """What ``manifest.json`` says about the latest complete snapshot."""

    taken_at: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def read(cls, folder: Path) -> SnapshotInfo | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            return cls(datetime.fromisoformat(data["taken_at"]), {str(k): int(v) for k, v in data["counts"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass
class RestoreReport:
    created: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)  # already in the store: left as they are
    snapshot: SnapshotInfo | None = None


def take_snapshot(settings: Settings, folder: Path | None = None) -> SnapshotInfo:
    """Copy every item of every container to ``folder`` (default :func:`snapshot_dir`); returns the manifest."""
    folder = folder or snapshot_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    taken_at = utc_now()
    client = open_client(settings)
    try:
        database = client.get_database_client(settings.cosmos.database)
        for spec in container_specs(settings.cosmos).values():
            container = database.get_container_client(spec.name)
            counts[spec.name] = _write_atomically(folder / f"{spec.name}.jsonl", _all_items(container, settings))
    finally:
        client.close()
    manifest = {"taken_at": taken_at.isoformat(), "counts": counts, "database": settings.cosmos.database}
    _replace(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log.info("snapshot of %d item(s) in %s", sum(counts.values()), folder)
    return SnapshotInfo(taken_at, counts)


def restore_snapshot(
    settings: Settings, folder: Path | None = None, *, on_progress: Progress | None = None
) -> RestoreReport:
    """Create every item of the latest snapshot that the store lacks (see the module docstring)."""
    folder = folder or snapshot_dir(settings)
    report = RestoreReport(snapshot=SnapshotInfo.read(folder))
    if report.snapshot is None:
        return report
    client = open_client(settings)
    try:
        database = ensure_schema(client, settings)
        for spec in container_specs(settings.cosmos).values():
            path = folder / f"{spec.name}.jsonl"
            items = list(_read_items(path)) if path.is_file() else []
            container = database.get_container_client(spec.name)
            created = write_all(
                container,
                settings,
                items,
                mode="create",
                on_progress=None if on_progress is None else partial(on_progress, spec.name),
            )
            report.created[spec.name] = created
            report.kept[spec.name] = len(items) - created
    finally:
        client.close()
    return report


def _all_items(container: ContainerProxy, settings: Settings) -> Iterator[dict[str, Any]]:
    try:
        with translate_errors(settings, container=container.id):
            for item in container.query_items("SELECT * FROM c", enable_cross_partition_query=True):
                yield item_body(item)
    except StoreError as exc:
        if isinstance(exc.__cause__, CosmosResourceNotFoundError):
            return  # the container (or the database) does not exist yet: nothing to keep
        raise


def _read_items(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                log.error("%s line %d is not JSON; skipped", path, number)
                continue
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                yield item


def _write_atomically(path: Path, items: Iterator[dict[str, Any]]) -> int:
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return count


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
