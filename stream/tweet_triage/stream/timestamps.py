"""UTC timestamps with one fixed-width text form, used by every stream message and store record.

Every timestamp on the wire and in Cosmos DB is written as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always UTC, always
microseconds). The fixed width makes the text sort in time order, which the results store's keyset paging relies on.
Naive datetimes are taken to be UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
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


def utc_now() -> datetime:
    return datetime.now(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(to_utc), PlainSerializer(format_utc, return_type=str)]
"""A datetime stored in UTC and serialized in the fixed-width form."""
