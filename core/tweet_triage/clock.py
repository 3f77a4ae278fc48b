"""UTC timestamps with one fixed-width text form, used by every stream message and store record.

Every timestamp on the wire and in Cosmos DB is written as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always UTC, always
microseconds). The fixed width makes the text sort in time order, which the results store's keyset paging relies on.
Naive datetimes are taken to be UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is assumed to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """The fixed-width UTC text form, e.g. ``2024-05-01T12:00:00.000000Z``."""
    return to_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # isoformat pads the year


def parse_iso8601(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time (``Z`` or an offset allowed) into an aware UTC datetime.

    Raises ``ValueError`` when ``text`` is not ISO-8601.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > 64:
        raise ValueError(f"not an ISO-8601 timestamp: {text[:80]!r}")
    try:
        return to_utc(datetime.fromisoformat(stripped))
    except OverflowError as exc:  # e.g. year 1 with a positive offset: outside datetime's range in UTC
        raise ValueError(f"timestamp out of range: {text[:80]!r}") from exc


_TWITTER_V1 = re.compile(
    r"\A(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2}) "
    r"(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})\Z"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_tweet_time(text: str) -> datetime:
    """A tweet's timestamp as Twitter's APIs write it: v2 and most producers ISO-8601 (``2018-10-10T20:19:24.000Z``),
    v1.1 ``Wed Oct 10 20:19:24 +0000 2018`` (English names whatever the locale). Raises ``ValueError`` otherwise."""
    match = _TWITTER_V1.match(text.strip())
    if match is None:
        return parse_iso8601(text)
    month, day, hour, minute, second, sign, off_h, off_m, year = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    try:
        local = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second))
        return to_utc(local.replace(tzinfo=timezone(offset)))
    except (ValueError, OverflowError) as exc:  # Feb 30, an offset of 24 h or more, beyond year 9999 in UTC
        raise ValueError(f"not a valid time: {text[:80]!r} ({exc})") from exc


_DURATION = re.compile(r"\A(\d{1,9})\s*([smhdw])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, now: datetime) -> datetime:
    """A point in time given as ISO-8601 (``2026-11-26T12:00Z``, a date) or as an age (``30m``, ``2h``, ``7d``).

    Raises ``ValueError`` with what was expected.
    """
    stripped = text.strip().lower()
    match = _DURATION.match(stripped)
    if match:
        return now - timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    try:
        return parse_iso8601(text)
    except ValueError:
        raise ValueError(
            f"{text[:80]!r} is neither an ISO-8601 time (2026-11-26T12:00:00Z) nor an age (45s, 30m, 2h, 7d, 1w)"
        ) from None


def utc_now() -> datetime:
    return datetime.now(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(to_utc), PlainSerializer(format_utc, return_type=str)]
"""A datetime stored in UTC and serialized in the fixed-width form."""
