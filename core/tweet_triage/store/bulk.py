"""Writing many items with the synchronous SDK, a few at a time in threads: what restore and rebuild share.

``create`` leaves an item that already exists alone (409 counts as "kept"); ``upsert`` replaces it. Errors other than
that conflict stop the run (a StoreError that says what to do): a recovery tool must not report success it did not
have.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, Literal

from azure.cosmos.exceptions import CosmosHttpResponseError

from tweet_triage.errors import StoreError
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import translate_errors

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy

THREADS: Final = 4
_CONFLICT: Final = 409
_REPORT_EVERY_S: Final = 0.2

Progress = Callable[[int, int], None]  # (done, total)


def write_all(
    container: ContainerProxy,
    settings: Settings,
    items: Sequence[dict[str, Any]],
    *,
    mode: Literal["create", "upsert"],
    on_progress: Progress | None = None,
) -> int:
    """Write ``items``; returns how many were written (with ``create``: not already there)."""

    def write(item: dict[str, Any]) -> bool:
        try:
            with translate_errors(settings, container=container.id):
                if mode == "create":
                    container.create_item(item)
                else:
                    container.upsert_item(item)
        except StoreError as exc:
            cause = exc.__cause__
            if mode == "create" and isinstance(cause, CosmosHttpResponseError) and cause.status_code == _CONFLICT:
                return False
            raise
        return True

    written = done = 0
    last = 0.0
    with ThreadPoolExecutor(THREADS, thread_name_prefix=f"{mode}-{container.id}") as pool:
        for was_written in pool.map(write, items):
            written += was_written
            done += 1
            now = time.monotonic()
            if on_progress is not None and (now - last > _REPORT_EVERY_S or done == len(items)):
                on_progress(done, len(items))
                last = now
    if on_progress is not None and not items:
        on_progress(0, 0)
    return written
