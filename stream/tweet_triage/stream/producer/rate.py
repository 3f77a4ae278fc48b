"""A token bucket for a steady publishing rate; the clock is injected so tests do not wait."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up (default: one second's worth, at least 1).

    :meth:`reserve` takes tokens at once (going into debt if needed) and returns how long to wait before using them,
    so a caller sending chunks of n events keeps the long-run rate exact however the chunks are sized.
    """

    def __init__(
        self, rate: float, *, capacity: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        if self.capacity <= 0:
            raise ValueError("capacity must be positive")
        self._clock = clock
        self._tokens = 0.0
        self._last = clock()

    def reserve(self, n: int = 1) -> float:
        """Take ``n`` tokens; return the seconds to wait before acting on them (0 when they were available)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
