"""The monitor pauses on store errors and retries; other errors are bugs and propagate."""

from __future__ import annotations

import asyncio

import pytest

from tweet_triage.errors import StoreError
from tweet_triage.monitoring import worker


def test_store_errors_are_retried_with_growing_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    answers = iter([StoreError("away"), StoreError("still away"), StoreError("again"), "stored"])

    def save(item: str) -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return f"{answer} {item}"

    assert asyncio.run(worker.until_stored("feedback", save, "x")) == "stored x"
    assert waits == [1.0, 2.0, 4.0]


def test_other_errors_propagate() -> None:
    def broken(item: str) -> str:
        raise ValueError(item)

    with pytest.raises(ValueError, match="bug"):
        asyncio.run(worker.until_stored("feedback", broken, "bug"))
