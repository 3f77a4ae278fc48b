"""A dependency's availability: one log line down, one up, callbacks for the gauge, a view for /healthz."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from tweet_triage.availability import Availability

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    now = [T0]
    changes: list[bool] = []
    store = Availability("the results store", on_change=changes.append, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tweet_triage.availability"):
        for attempt in range(5):
            store.failed(f"404: not found #{attempt}")
        health = store.health()
        now[0] = T0 + timedelta(seconds=12.5)
        store.succeeded()
        store.succeeded()
    assert changes == [False, True]
    assert health == {
        "available": False,
        "since": "2026-11-26T12:00:00.000000Z",
        "failed_attempts": 5,
        "last_error": "404: not found #4",
        "outages": 1,
    }
    assert store.health() == {"available": True, "outages": 1}
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "unavailable" in messages[0] and "nothing is skipped or dead-lettered" in messages[0]
    assert "available again after 12.5 s (5 failed attempt(s))" in messages[1]
