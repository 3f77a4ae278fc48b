"""Retrying store operations: which errors are transient, how long to wait, when to give up.

Transient: HTTP 408, 410, 429 (throttled; the ``x-ms-retry-after-ms`` header is honoured), 449 and every 5xx,
request/response errors of the transport (connection refused or reset, timeouts). Everything else (400 bad request,
401/403, 404 missing container, 409, 412, 413 too large, a client-side ``ValueError``) is permanent: retrying would not
help. A permanent 5xx only delays; a transient error treated as permanent would lose data — so 5xx is transient.

Waits grow exponentially with "equal jitter" (half fixed, half random) up to ``Backoff.max_s``, never below the
store's own retry-after. A :class:`RetryPolicy` with ``max_attempts=None`` retries until the operation succeeds
(the stream worker's mode: the stream pauses while the store is away) and reports every failed round through
``on_retry``; with a number it raises :class:`~tweet_triage.stream.exceptions.StoreUnavailable` when spent.
Sleep and randomness are injected so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from tweet_triage.stream.exceptions import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]

RETRY_AFTER_HEADER: Final = "x-ms-retry-after-ms"
_TRANSIENT_STATUS: Final = frozenset({408, 410, 429, 449})
_MAX_EXPONENT: Final = 62  # keeps multiplier ** n finite however long the store stays away


@dataclass(frozen=True)
class Transient:
    """A retryable failure; ``retry_after`` is the store's own hint (seconds), if it gave one."""

    status: int | None
    retry_after: float | None


def classify(error: BaseException) -> Transient | None:
    """A :class:`Transient` if retrying ``error`` can help, else None (permanent)."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(error, HttpResponseError):
        status = getattr(error, "status_code", None)
        if isinstance(status, int) and (status in _TRANSIENT_STATUS or status >= 500):
            return Transient(status, _retry_after(error))
        return None
    if isinstance(error, ServiceRequestError | ServiceResponseError | TimeoutError | ConnectionError):
        return Transient(None, None)
    if _is_aiohttp_client_error(error):
        return Transient(None, None)
    return None


def status_of(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


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
    status: int | None


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. ``max_attempts=None``: until it works (capped backoff, ``on_retry`` each round)."""

    max_attempts: int | None = 5
    backoff: Backoff = field(default_factory=Backoff)
    on_retry: Callable[[RetryNotice], None] | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None for no limit)")

    @classmethod
    def forever(
        cls, *, backoff: Backoff | None = None, on_retry: Callable[[RetryNotice], None] | None = None
    ) -> RetryPolicy:
        """Retry until the store answers — for the stream worker, which pauses meanwhile."""
        return cls(max_attempts=None, backoff=backoff or Backoff(max_s=10.0), on_retry=on_retry)

    def gives_up_after(self, attempt: int) -> bool:
        return self.max_attempts is not None and attempt >= self.max_attempts

    def notify(self, notice: RetryNotice) -> None:
        log.warning(
            "%s failed (attempt %d, %d pending, status %s): %s; retrying in %.2f s",
            notice.operation,
            notice.attempt,
            notice.pending,
            notice.status,
            _describe(notice.error),
            notice.delay_s,
        )
        if self.on_retry is not None:
            self.on_retry(notice)


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    what: str,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
) -> T:
    """Run ``operation`` until it succeeds, a permanent error is raised (re-raised as is), or the policy gives up."""
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as exc:
            transient = classify(exc)
            if transient is None:
                raise
            attempt += 1
            delay = policy.backoff.delay(attempt, retry_after=transient.retry_after, rand=rand)
            if policy.gives_up_after(attempt):
                raise StoreUnavailable(
                    f"{what} failed {attempt} time(s): {_describe(exc)}", retry_after=delay, attempts=attempt, pending=1
                ) from exc
            policy.notify(RetryNotice(what, attempt, delay, 1, exc, transient.status))
            await sleep(delay)


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


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
