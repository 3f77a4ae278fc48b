"""Store failures: whose fault they are (the one owner of that rule), and the store's retried call.

:func:`classify` sorts every failure of a store call into one of three scopes:

* ``service`` — the store as a whole cannot serve: HTTP 401/403 (key rotated, firewall), 404 (on a write: the database
  or container is missing, e.g. the local server restarted empty; ``schema_missing``), 408, 410, 429 (the
  ``x-ms-retry-after-ms`` header is honoured), 449, every 5xx, and transport errors (connection refused or reset,
  timeouts), and a malformed account key. Retried with backoff — the stream pauses; nothing is dead-lettered for it.
* ``item`` — the store refused this one item: 400 (invalid document, bad partition key), 409, 412, 413 (too large),
  any other 4xx, and the SDK's own checks of one body (``ValueError``/``TypeError``). The item is dead-lettered.
* ``unexplained`` — anything else (a bug, a closed client). It is one item's fault only if other items of the same
  call went through; otherwise the caller stops without acknowledging, and the stream is re-delivered.

Waits, give-up and reporting are the generic loop's (:mod:`tweet_triage.retry`): a policy with
``max_attempts=None`` (``RetryPolicy.forever``) retries until the operation succeeds — the stream worker's mode: the
stream pauses while the store is away; with a number, :func:`call_with_retries` raises
:class:`~tweet_triage.errors.StoreUnavailable` when it is spent. ``Backoff``, ``RetryPolicy``, ``RetryNotice`` and
``describe`` are that module's, named here too for the store's callers.
"""

from __future__ import annotations

import asyncio
import binascii
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from aiohttp import ClientError
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from tweet_triage import retry
from tweet_triage.errors import StoreUnavailable
from tweet_triage.retry import Backoff, Random, RetryNotice, RetryPolicy, Sleep, describe

__all__ = [
    "Backoff",
    "Failure",
    "RetryNotice",
    "RetryPolicy",
    "call_with_retries",
    "classify",
    "describe",
]

T = TypeVar("T")

RETRY_AFTER_HEADER: Final = "x-ms-retry-after-ms"
_STORE_WIDE_STATUS: Final = frozenset({401, 403, 404, 408, 410, 429, 449})


@dataclass(frozen=True)
class Failure(retry.Failure):
    """A failed store call sorted by :func:`classify` (see :class:`tweet_triage.retry.Failure`), and whether it says
    that the database or a container is missing."""

    schema_missing: bool = False  # 404 on a write: re-create the database and containers, then retry


def classify(error: BaseException) -> Failure:
    """Whose fault a store ``error`` is: the store's as a whole, one item's, or unexplained."""
    if isinstance(error, HttpResponseError):
        status = getattr(error, "status_code", None)
        if not isinstance(status, int):
            return Failure("service")  # an HTTP failure without a status: the response never came back whole
        if status in _STORE_WIDE_STATUS or status >= 500:
            return Failure("service", status, _retry_after(error), schema_missing=status == 404)
        return Failure("item", status)
    if isinstance(error, ServiceRequestError | ServiceResponseError | TimeoutError | ConnectionError):
        return Failure("service")
    if isinstance(error, ClientError | binascii.Error):  # transport; a malformed account key
        return Failure("service")
    if isinstance(error, ValueError | TypeError):  # the SDK checks each body before sending it
        return Failure("item")
    return Failure("unexplained")


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    what: str,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
) -> T:
    """Run ``operation`` until it succeeds, an error that is not store-wide is raised (re-raised as is), or the policy
    gives up (:class:`StoreUnavailable`)."""

    def give_up(error: BaseException, attempts: int) -> StoreUnavailable:
        return StoreUnavailable(f"{what} failed {attempts} time(s): {describe(error)}", attempts=attempts, pending=1)

    return await retry.retry(
        operation, policy=policy, classify=classify, what=what, give_up=give_up, sleep=sleep, rand=rand
    )


def _retry_after(error: BaseException) -> float | None:
    headers = getattr(error, "headers", None) or {}
    raw = headers.get(RETRY_AFTER_HEADER) if hasattr(headers, "get") else None
    try:
        return max(float(raw) / 1000.0, 0.0) if raw is not None else None
    except (TypeError, ValueError):
        return None
