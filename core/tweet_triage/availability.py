"""Whether a dependency (the results store, the broker) is answering, as the calls made to it see it.

A worker never skips or dead-letters data because a dependency is away: it pauses and retries. This tracker makes
that pause visible: one clear log line when the dependency goes away and one when it is back (each retry in between
is logged by the retry policy), callbacks for a gauge and an outage counter, and a view for the health page.
It is fed by :class:`~tweet_triage.store.retry.RetryPolicy` callbacks, so it is thread-safe (the monitor calls
its stores from worker threads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tweet_triage.clock import format_utc, utc_now
from tweet_triage.store.retry import RetryNotice, describe

log = logging.getLogger(__name__)


class Availability:
    """One dependency's state: available, or unavailable since a time with the last error seen."""

    def __init__(
        self,
        name: str,
        *,
        on_change: Callable[[bool], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.name = name
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self.since: datetime | None = None  # when the current outage started
        self.last_error: str | None = None
        self.failures = 0  # failed attempts in the current outage
        self.outages = 0

    @property
    def available(self) -> bool:
        return self.since is None

    def failed(self, error: str) -> None:
        """A call failed because the dependency as a whole cannot serve."""
        with self._lock:
            went_down = self.since is None
            if went_down:
                self.since = self._clock()
                self.outages += 1
            self.failures += 1
            self.last_error = error
        if went_down:
            log.error(
                "%s unavailable (%s): consumption is paused and retried with backoff; nothing is skipped or "
                "dead-lettered for it",
                self.name,
                error,
            )
            self._notify(False)

    def succeeded(self) -> None:
        """A call went through: the dependency is back, if it was away."""
        with self._lock:
            since, failures = self.since, self.failures
            if since is None:
                return
            self.since, self.failures = None, 0
        seconds = (self._clock() - since).total_seconds()
        log.warning(
            "%s available again after %.1f s (%d failed attempt(s)); consuming again", self.name, seconds, failures
        )
        self._notify(True)

    def on_retry(self, notice: RetryNotice) -> None:
        """Feed from ``RetryPolicy(on_retry=...)``."""
        self.failed(f"{notice.failure.cause}: {describe(notice.error)}")

    def on_recovered(self, operation: str) -> None:
        """Feed from ``RetryPolicy(on_recovered=...)``."""
        self.succeeded()

    def health(self) -> dict[str, Any]:
        with self._lock:
            if self.since is None:
                return {"available": True, "outages": self.outages}
            return {
                "available": False,
                "since": format_utc(self.since),
                "failed_attempts": self.failures,
                "last_error": self.last_error,
                "outages": self.outages,
            }

    def _notify(self, available: bool) -> None:
        if self._on_change is not None:
            self._on_change(available)
