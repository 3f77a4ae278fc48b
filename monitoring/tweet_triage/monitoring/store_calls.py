"""The monitor's store calls under the same rule as the scoring worker's (see ``stream/store/retry.py``):

* a store-wide failure (:class:`~tweet_triage.errors.StoreOutage`: unreachable, 401/403, a missing
  database or container, 429, 5xx) pauses the stream and is retried with growing waits until the store answers —
  after a 404 the database and containers are re-created first (the local server loses them when it restarts);
* a refusal of one item (:class:`~tweet_triage.errors.ItemRefused`) is raised to the caller, which
  dead-letters the message it came from, so one bad feedback event never blocks its partition;
* anything else is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tweet_triage.availability import Availability
from tweet_triage.errors import StoreError, StoreOutage

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")

FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0


async def until_stored(
    what: str,
    call: Callable[[A], T],
    argument: A,
    *,
    availability: Availability | None = None,
    repair: Callable[[], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run a synchronous store operation in a thread until the store answers (see the module docstring)."""
    wait = FIRST_WAIT_S
    while True:
        try:
            result = await asyncio.to_thread(call, argument)
        except StoreOutage as exc:
            log.warning("%s not stored yet (%s); retrying in %.0f s", what, exc, wait)
            if availability is not None:
                availability.failed(str(exc))
            if exc.schema_missing and repair is not None:
                await _repair(repair, what)
        else:
            if availability is not None:
                availability.succeeded()
            return result
        await sleep(wait)  # backoff while the store is unavailable
        wait = min(wait * 2, MAX_WAIT_S)


async def _repair(repair: Callable[[], None], what: str) -> None:
    try:
        await asyncio.to_thread(repair)
    except StoreError as exc:
        log.warning("%s: could not re-create the database and containers yet: %s", what, exc)
    else:
        log.warning("%s: the database or a container was missing; re-created them", what)
