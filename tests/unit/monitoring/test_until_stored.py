"""The monitor's store calls: store-wide failures pause and retry (re-creating a lost schema), item refusals and
bugs propagate."""

from __future__ import annotations

import asyncio

import pytest

from tweet_triage.availability import Availability
from tweet_triage.errors import ItemRefused, StoreOutage
from tweet_triage.monitoring.store_calls import until_stored


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def test_store_wide_failures_are_retried_with_growing_waits_and_a_lost_schema_is_recreated() -> None:
    answers: list[object] = [
        StoreOutage("unreachable"),
        StoreOutage("no database", status=404, schema_missing=True),
        StoreOutage("throttled", status=429),
        "stored",
    ]
    repairs: list[str] = []
    changes: list[bool] = []
    waits = Waits()

    def save(item: str) -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return f"{answer} {item}"

    store = Availability("store", on_change=changes.append)
    result = asyncio.run(
        until_stored("feedback", save, "x", availability=store, repair=lambda: repairs.append("schema"), sleep=waits)
    )
    assert result == "stored x"
    assert waits.seconds == [1.0, 2.0, 4.0]
    assert repairs == ["schema"]
    assert changes == [False, True] and store.available


@pytest.mark.parametrize("error", [ItemRefused("bad partition key", status=400), ValueError("bug")])
def test_item_refusals_and_bugs_propagate_at_once(error: Exception) -> None:
    def save(item: str) -> str:
        raise error

    waits = Waits()
    with pytest.raises(type(error)):
        asyncio.run(until_stored("feedback", save, "x", sleep=waits))
    assert waits.seconds == []
