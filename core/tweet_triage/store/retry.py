"""Store failures: whose fault they are, how long to wait, when to give up. The one owner of that rule.

:func:`classify` sorts every failure of a store call into one of three scopes:

* ``service`` — the store as a whole cannot serve: HTTP 401/403 (key rotated, firewall), 404 (on a write: the database
  or container is missing, e.g. the local server restarted empty; ``schema_missing``), 408, 410, 429 (the
  ``x-ms-retry-after-ms`` header is honoured), 449, every 5xx, and transport errors (connection refused or reset,
  timeouts), and a malformed account key. Retried with backoff — the stream pauses; nothing is dead-lettered for it.
* ``item`` — the store refused this one item: 400 (invalid document, bad partition key), 409, 412, 413 (too large),
  any other 4xx, and the SDK's own checks of one body (``ValueError``/``TypeError``). The item is dead-lettered.
* ``unexplained`` — anything else (a bug, a closed client). It is one item's fault only if other items of the same
  call went through; otherwise the caller stops without acknowledging, and the stream is re-delivered.

Waits grow exponentially with "equal jitter" (half fixed, half random) up to ``Backoff.max_s``, never below the
store's own retry-after. A :class:`RetryPolicy` with ``max_attempts=None`` retries until the operation succeeds
(the stream worker's mode: the stream pauses while the store is away) and reports every failed round through
``on_retry`` and the first success after failures through ``on_recovered``; with a number it raises
:class:`~tweet_triage.errors.StoreUnavailable` when spent. Sleep and randomness are injected so tests run
without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from tweet_triage.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]

RETRY_AFTER_HEADER: Final = "x-ms-retry-after-ms"
_STORE_WIDE_STATUS: Final = frozenset({401, 403, 404, 408, 410, 429, 449})
_MAX_EXPONENT: Final = 62  # keeps multiplier ** n finite however long the store stays away

Scope = Literal["service", "item", "unexplained"]


@dataclass(frozen=True)
class Failure:
    """How one failed call is to be handled: ``service`` — the service as a whole (store, broker) cannot serve, wait
    and retry; ``item`` — it refused this one item; ``unexplained`` — neither is known (see the module docstring)."""

    scope: Scope
    status: int | None = None
    retry_after: float | None = None  # the store's own hint, seconds
    schema_missing: bool = False  # 404 on a write: re-create the database and containers, then retry

    @property
    def service_wide(self) -> bool:
        return self.scope == "service"

    @property
    def cause(self) -> str:
        """A short label for metrics and logs: the HTTP status, or ``connection``/``error``."""
        if self.status is not None:
            return str(self.status)
        return "connection" if self.service_wide else "error"


def classify(error: BaseException) -> Failure:
    """Whose fault a store ``error`` is: the store's as a whole, one item's, or unexplained."""
    import binascii

    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(error, HttpResponseError):
        status = getattr(error, "status_code", None)
        if not isinstance(status, int):
            return Failure("service")  # an HTTP failure without a status: the response never came back whole
        if status in _STORE_WIDE_STATUS or status >= 500:
            return Failure("service", status, _retry_after(error), schema_missing=status == 404)
        return Failure("item", status)
    if isinstance(error, ServiceRequestError | ServiceResponseError | TimeoutError | ConnectionError):
        return Failure("service")
    if _is_aiohttp_client_error(error) or isinstance(error, binascii.Error):  # transport; a malformed account key
        return Failure("service")
    if isinstance(error, ValueError | TypeError):  # the SDK checks each body before sending it
        return Failure("item")
    return Failure("unexplained")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits between c/2 and c, c = min(max_s, initial_s·mᶰ⁻¹)."""

    initial_s: float = 0.1
    max_s: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.multiplier < 1:
            raise ValueError("backoff needs 0 < initial_s <= max_s and multiplier >= 1")

    def delay(self, attempt: int, *, retry_after: float | None = None, rand: Random = random.random) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based)."""
        exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
        ceiling = min(self.max_s, self.initial_s * self.multiplier**exponent)
        wait = ceiling / 2 + rand() * ceiling / 2
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


@dataclass(frozen=True)
class RetryNotice:
    """One failed round, reported through ``RetryPolicy.on_retry`` before the wait."""

    operation: str
    attempt: int
    delay_s: float
    pending: int
    error: BaseException
    failure: Failure

    @property
    def status(self) -> int | None:
        return self.failure.status


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. ``max_attempts=None``: until it works (capped backoff, ``on_retry`` each round)."""

    max_attempts: int | None = 5
    backoff: Backoff = field(default_factory=Backoff)
    on_retry: Callable[[RetryNotice], None] | None = None
    on_recovered: Callable[[str], None] | None = None  # the operation succeeded after failed rounds

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None for no limit)")

    @classmethod
    def forever(
        cls,
        *,
        backoff: Backoff | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        on_recovered: Callable[[str], None] | None = None,
    ) -> RetryPolicy:
        """Retry until the store answers — for the stream worker, which pauses meanwhile."""
        return cls(
            max_attempts=None, backoff=backoff or Backoff(max_s=10.0), on_retry=on_retry, on_recovered=on_recovered
        )

    def gives_up_after(self, attempt: int) -> bool:
        return self.max_attempts is not None and attempt >= self.max_attempts

    def notify(self, notice: RetryNotice) -> None:
        log.warning(
            "%s failed (attempt %d, %d pending, status %s): %s; retrying in %.2f s",
            notice.operation,
            notice.attempt,
            notice.pending,
            notice.status,
            describe(notice.error),
            notice.delay_s,
        )
        if self.on_retry is not None:
            self.on_retry(notice)

    def recovered(self, operation: str, after_attempts: int) -> None:
        log.warning("%s succeeded after %d failed attempt(s)", operation, after_attempts)
        if self.on_recovered is not None:
            self.on_recovered(operation)


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    what: str,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
) -> T:
    """Run ``operation`` until it succeeds, an error that is not store-wide is raised (re-raised as is), or the policy
    gives up."""
    attempt = 0
    while True:
        try:
            result = await operation()
        except Exception as exc:
            failure = classify(exc)
            if not failure.service_wide:
                raise
            attempt += 1
            delay = policy.backoff.delay(attempt, retry_after=failure.retry_after, rand=rand)
            if policy.gives_up_after(attempt):
                raise StoreUnavailable(
                    f"{what} failed {attempt} time(s): {describe(exc)}", attempts=attempt, pending=1
                ) from exc
            policy.notify(RetryNotice(what, attempt, delay, 1, exc, failure))
            await sleep(delay)
        else:
            if attempt:
                policy.recovered(what, attempt)
            return result


def _retry_after(error: BaseException) -> float | None:
    headers = getattr(error, "headers", None) or {}
    raw = headers.get(RETRY_AFTER_HEADER) if hasattr(headers, "get") else None
    try:
        return max(float(raw) / 1000.0, 0.0) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _is_aiohttp_client_error(error: BaseException) -> bool:
    try:
        from aiohttp import ClientError
    except ImportError:  # pragma: no cover - aiohttp comes with the async Cosmos client
        return False
    return isinstance(error, ClientError)


def describe(error: BaseException) -> str:
    """``Type: first line`` of an error, at most 300 characters (for logs, health pages and dead letters)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
