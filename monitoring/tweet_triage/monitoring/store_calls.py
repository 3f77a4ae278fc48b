"""The monitor's store calls under the same rule as the scoring worker's (see ``core/tweet_triage/store/retry.py``):

* a store-wide failure (:class:`~tweet_triage.errors.StoreOutage`: unreachable, 401/403, a missing
  database or container, 429, 5xx) pauses the stream and is retried with growing waits (1 s, doubling up to 30 s)
  until the store answers — after a 404 the database and containers are re-created before the next attempt (the local
  server loses them when it restarts);
* a refusal of one item (:class:`~tweet_triage.errors.ItemRefused`) is raised to the caller, which
  dead-letters the message it came from, so one bad feedback event never blocks its partition;
* anything else is a bug and propagates.

The waiting is :func:`tweet_triage.retry.retry`'s; this module only says which errors wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from tweet_triage.availability import Availability
from tweet_triage.errors import StoreError, StoreOutage
from tweet_triage.retry import Backoff, Failure, RetryNotice, RetryPolicy, retry

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")

BACKOFF: Final = Backoff(initial_s=1.0, max_s=30.0, multiplier=2.0, jitter=False)


def classify(error: BaseException) -> Failure:
    """A :class:`StoreOutage` waits for the store; every other error is the caller's to handle."""
    if isinstance(error, StoreOutage):
        return Failure("service", error.status)
    return Failure("unexplained")


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
    schema_missing = False

    async def attempt() -> T:
        nonlocal schema_missing
        if schema_missing and repair is not None:
            await _repair(repair, what)
        try:
            return await asyncio.to_thread(call, argument)
        except StoreOutage as exc:
            schema_missing = exc.schema_missing
            raise

    def failed(notice: RetryNotice) -> None:
        if availability is not None:
            availability.failed(str(notice.error))

    policy = RetryPolicy(max_attempts=None, backoff=BACKOFF, on_retry=failed)
    result = await retry(attempt, policy=policy, classify=classify, what=f"store {what}", sleep=sleep)
    if availability is not None:
        availability.succeeded()
    return result


async def _repair(repair: Callable[[], None], what: str) -> None:
    try:
        await asyncio.to_thread(repair)
    except StoreError as exc:
        log.warning("%s: could not re-create the database and containers yet: %s", what, exc)
    else:
        log.warning("%s: the database or a container was missing; re-created them", what)
