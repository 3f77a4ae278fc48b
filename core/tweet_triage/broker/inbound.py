"""One message as the broker delivered it, and safe readings of what it carries besides its value.

Anything on a message can be hostile, not only the value: a producer may set a timestamp in the year 10000 or
before 1970, a key of hundreds of kilobytes, headers of any number, name and size. :meth:`InboundMessage.from_broker`
takes whatever the client library hands over and never raises; :attr:`InboundMessage.time` is the broker timestamp
as a UTC datetime, or None when it cannot be one (the raw milliseconds stay in :attr:`InboundMessage.timestamp_ms`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class InboundMessage:
    """One message as the broker delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_s: float | None = None  # the broker timestamp in seconds since the epoch, exactly as delivered
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_broker(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: object,
        value: object,
        timestamp_s: object = None,
        headers: object = None,
    ) -> InboundMessage:
        """Normalise what a Kafka client delivered (Faust, aiokafka) without ever raising."""
        return cls(
            topic=str(topic),
            partition=int(partition),
            offset=int(offset),
            key=_as_bytes(key),
            value=_as_bytes(value),
            timestamp_s=float(timestamp_s) if isinstance(timestamp_s, int | float) else None,
            headers=normalize_headers(headers),
        )

    @property
    def time(self) -> datetime | None:
        """The broker timestamp as an aware UTC datetime, or None if absent or outside what a datetime can hold."""
        return broker_time(self.timestamp_s)

    @property
    def timestamp_ms(self) -> int | None:
        """The broker timestamp in milliseconds (as Kafka stores it), or None if absent or not a finite number."""
        if self.timestamp_s is None or not math.isfinite(self.timestamp_s):
            return None
        return round(self.timestamp_s * 1000)

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name``, if any."""
        values = [value for key, value in self.headers if key == name]
        return values[-1] if values else None


def broker_time(seconds: float | None) -> datetime | None:
    """``seconds`` since the epoch as a UTC datetime; None when absent, negative (Kafka's "no timestamp") or out of
    range (``datetime`` ends in the year 9999)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def normalize_headers(raw: object) -> tuple[tuple[str, bytes], ...]:
    """Headers in any shape a client hands over (list of pairs, mapping, None) as ``(name, value)`` pairs."""
    if raw is None:
        return ()
    pairs: Iterable[Any]
    if isinstance(raw, Mapping):
        pairs = raw.items()
    elif isinstance(raw, Iterable) and not isinstance(raw, str | bytes):
        pairs = raw
    else:
        return ()
    headers: list[tuple[str, bytes]] = []
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        headers.append((text, _as_bytes(value) or b""))
    return tuple(headers)


def _as_bytes(value: object) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "replace")
