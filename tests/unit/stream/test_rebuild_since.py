"""`triage results rebuild --since`: an ISO-8601 time (UTC unless it says otherwise) or an age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tweet_triage.errors import UsageError
from tweet_triage.stream.cli.results import parse_since

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6h", NOW - timedelta(hours=6)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2d", NOW - timedelta(days=2)),
        ("2026-12-01T10:00", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        ("2026-12-01T10:00+02:00", datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_times_and_ages(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_anything_else_is_a_usage_error_naming_the_forms() -> None:
    with pytest.raises(UsageError, match="neither an ISO-8601 time nor an age like 30m"):
        parse_since("yesterday", now=NOW)
