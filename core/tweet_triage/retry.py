"""Retrying calls to a dependency that may be away: how long to wait, when to give up, whom to tell. The one loop.

Each caller keeps its own rule for which errors are worth another attempt — a ``classify`` function that sorts an
error into a :class:`Failure`: the results store's is :func:`tweet_triage.store.retry.classify`, the broker's
:func:`tweet_triage.broker.sending.classify_send`; the alert webhook, the monitor's store calls and the local stack's
health polls have theirs beside their code. Only ``service`` failures (the dependency as a whole cannot serve) are
retried; any other error is raised to the caller at once. This module counts the failed attempts, computes the waits
(:class:`Backoff`, never below the dependency's own retry-after hint), decides when a :class:`RetryPolicy` is spent
(after a number of attempts, after a time budget, or never), and reports every failed round (a log line and
``on_retry``) and the first success after failures (``on_recovered``).

:func:`retry` runs an async operation, :func:`retry_sync` a blocking one. Calls that write a batch in rounds and retry
only the items that failed count their rounds with :class:`Attempts` themselves. Sleep, randomness and the clock are
injected so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
SyncSleep = Callable[[float], None]
Random = Callable[[], float]
Clock = Callable[[], float]  # seconds on a monotonic clock

_MAX_EXPONENT: Final = 62  # keeps multiplier ** n finite however long the dependency stays away

Scope = Literal["service", "item", "unexplained"]


@dataclass(frozen=True)
class Failure:
    """How one failed call is to be handled: ``service`` — the dependency as a whole (store, broker, receiver) cannot
    serve, wait and retry; ``item`` — it refused this one request; ``unexplained`` — neither is known (a bug)."""

    scope: Scope
    status: int | None = None
    retry_after: float | None = None  # the dependency's own hint, seconds

    @property
    def service_wide(self) -> bool:
        return self.scope == "service"

    @property
    def cause(self) -> str:
        """A short label for metrics and logs: the HTTP status, or ``connection``/``error``."""
        if self.status is not None:
            return str(self.status)
        return "connection" if self.service_wide else "error"


Classify = Callable[[BaseException], Failure]
GiveUp = Callable[[BaseException, int], BaseException]  # (last error, attempts) -> the error to raise instead


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: attempt n waits c = min(max_s, initial_s·mᶰ⁻¹); with ``jitter`` ("equal jitter") a random
    wait between c/2 and c instead, so clients that failed together do not retry together."""

    initial_s: float = 0.1
    max_s: float = 5.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.multiplier < 1:
            raise ValueError("backoff needs 0 < initial_s <= max_s and multiplier >= 1")

    def delay(self, attempt: int, *, retry_after: float | None = None, rand: Random = random.random) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based), never less than ``retry_after``."""
        exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
        ceiling = min(self.max_s, self.initial_s * self.multiplier**exponent)
        wait = ceiling / 2 + rand() * ceiling / 2 if self.jitter else ceiling
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
    """How long to keep trying: ``max_attempts`` attempts (None: no limit) and, if set, no new attempt once
    ``max_elapsed_s`` have passed since the first. Each failed round and the recovery are logged at ``log_level``."""

    max_attempts: int | None = 5
    backoff: Backoff = field(default_factory=Backoff)
    on_retry: Callable[[RetryNotice], None] | None = None
    on_recovered: Callable[[str], None] | None = None  # the operation succeeded after failed rounds
    max_elapsed_s: float | None = None
    log_level: int = logging.WARNING

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None for no limit)")
        if self.max_elapsed_s is not None and self.max_elapsed_s < 0:
            raise ValueError("max_elapsed_s must not be negative (or None for no limit)")

    @classmethod
    def forever(
        cls,
        *,
        backoff: Backoff | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        on_recovered: Callable[[str], None] | None = None,
    ) -> RetryPolicy:
        """Retry until the dependency answers — for the stream worker, which pauses meanwhile."""
        return cls(
            max_attempts=None, backoff=backoff or Backoff(max_s=10.0), on_retry=on_retry, on_recovered=on_recovered
        )

    def gives_up_after(self, attempt: int, elapsed_s: float = 0.0) -> bool:
        """Whether the ``attempt``-th failure, ``elapsed_s`` after the first attempt started, is the last."""
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return True
        return self.max_elapsed_s is not None and elapsed_s >= self.max_elapsed_s

    def notify(self, notice: RetryNotice) -> None:
        log.log(
            self.log_level,
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
        log.log(self.log_level, "%s succeeded after %d failed attempt(s)", operation, after_attempts)
        if self.on_recovered is not None:
            self.on_recovered(operation)


class Attempts:
    """The failed rounds of one operation under a policy: counts them, says how long to wait before the next round
    or that the policy is spent, and reports the rounds and the recovery."""

    def __init__(
        self, policy: RetryPolicy, what: str, *, rand: Random = random.random, clock: Clock = time.monotonic
    ) -> None:
        self.policy = policy
        self.what = what
        self.count = 0  # failed rounds so far
        self._rand = rand
        self._clock = clock
        self._started = clock()

    def failed(
        self, error: BaseException, failure: Failure, *, pending: int = 1, retry_after: float | None = None
    ) -> float | None:
        """Count a failed round: the seconds to wait before the next one (the round is reported), or None when the
        policy is spent (nothing reported: the caller raises). ``retry_after`` is the dependency's hint for the whole
        round (default: the failure's own)."""
        self.count += 1
        hint = failure.retry_after if retry_after is None else retry_after
        delay = self.policy.backoff.delay(self.count, retry_after=hint, rand=self._rand)
        if self.policy.gives_up_after(self.count, self._clock() - self._started):
            return None
        self.policy.notify(RetryNotice(self.what, self.count, delay, pending, error, failure))
        return delay

    def succeeded(self) -> None:
        """The operation went through: reported as a recovery if rounds had failed."""
        if self.count:
            self.policy.recovered(self.what, self.count)


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Classify,
    what: str,
    give_up: GiveUp | None = None,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
    clock: Clock = time.monotonic,
) -> T:
    """Await ``operation()`` until it succeeds; an error ``classify`` does not call ``service`` is raised at once.
    When the policy is spent, ``give_up(last error, attempts)`` is raised from the last error (default: that error)."""
    attempts = Attempts(policy, what, rand=rand, clock=clock)
    while True:
        try:
            result = await operation()
        except Exception as exc:
            await sleep(_next_wait(attempts, exc, classify, give_up))
        else:
            attempts.succeeded()
            return result


def retry_sync(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Classify,
    what: str,
    give_up: GiveUp | None = None,
    sleep: SyncSleep = time.sleep,
    rand: Random = random.random,
    clock: Clock = time.monotonic,
) -> T:
    """The blocking twin of :func:`retry`, for code that does not run on an event loop."""
    attempts = Attempts(policy, what, rand=rand, clock=clock)
    while True:
        try:
            result = operation()
        except Exception as exc:
            sleep(_next_wait(attempts, exc, classify, give_up))
        else:
            attempts.succeeded()
            return result


def _next_wait(attempts: Attempts, error: Exception, classify: Classify, give_up: GiveUp | None) -> float:
    """The wait before the next attempt after ``error``; raises it (or what ``give_up`` makes of it) when it is not
    worth retrying or the policy is spent."""
    failure = classify(error)
    if not failure.service_wide:
        raise error
    delay = attempts.failed(error, failure)
    if delay is None:
        if give_up is None:
            raise error
        raise give_up(error, attempts.count) from error
    return delay


def describe(error: BaseException) -> str:
    """``Type: first line`` of an error, at most 300 characters (for logs, health pages and dead letters)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
