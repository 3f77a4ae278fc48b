"""Whose fault a store error is (the store's as a whole, one item's, or unexplained), and the store's retried call
(the loop itself is tested in tests/unit/test_retry.py)."""

from __future__ import annotations

import asyncio
import binascii

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos.exceptions import CosmosHttpResponseError

from tweet_triage.errors import StoreUnavailable
from tweet_triage.store.retry import Backoff, RetryNotice, RetryPolicy, call_with_retries, classify


def http_error(status: int, retry_after_ms: str | None = None) -> CosmosHttpResponseError:
    error = CosmosHttpResponseError(status_code=status, message=f"status {status}")  # type: ignore[no-untyped-call]
    if retry_after_ms is not None:
        error.headers = {"x-ms-retry-after-ms": retry_after_ms}
    return error


@pytest.mark.parametrize("status", [401, 403, 404, 408, 410, 429, 449, 500, 502, 503, 504])
def test_store_wide_statuses_pause_and_retry(status: int) -> None:
    failure = classify(http_error(status))
    assert failure.scope == "service" and failure.status == status
    assert failure.schema_missing is (status == 404)  # a write gets 404 only when the database or container is gone


@pytest.mark.parametrize("status", [400, 409, 412, 413, 422])
def test_statuses_about_one_item_refuse_that_item(status: int) -> None:
    failure = classify(http_error(status))
    assert failure.scope == "item" and failure.status == status


@pytest.mark.parametrize(
    "error",
    [
        ServiceRequestError("connection refused"),
        ServiceResponseError("connection reset"),
        TimeoutError(),
        ConnectionRefusedError(),
    ],
)
def test_transport_errors_are_store_wide(error: Exception) -> None:
    failure = classify(error)
    assert failure.scope == "service" and failure.cause == "connection"


def test_a_malformed_account_key_is_store_wide_not_an_item_refusal() -> None:
    assert classify(binascii.Error("Incorrect padding")).scope == "service"


@pytest.mark.parametrize("error", [ValueError("Id contains illegal chars."), TypeError("Id type must be a string.")])
def test_the_sdks_checks_of_one_body_refuse_that_item(error: Exception) -> None:
    assert classify(error).scope == "item"


@pytest.mark.parametrize("error", [KeyError("id"), RuntimeError("Session is closed"), AttributeError("x")])
def test_other_errors_are_unexplained(error: Exception) -> None:
    assert classify(error).scope == "unexplained"


def test_throttling_carries_the_stores_retry_after() -> None:
    assert classify(http_error(429, "250")).retry_after == 0.25
    assert classify(http_error(429, "soon")).retry_after is None


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_call_with_retries_waits_out_store_wide_failures_honouring_the_stores_hint() -> None:
    failures: list[Exception] = [http_error(429, "2500"), ServiceRequestError("down")]
    notices: list[RetryNotice] = []
    recorder = Recorder()

    async def operation() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    policy = RetryPolicy.forever(backoff=Backoff(initial_s=1, max_s=8), on_retry=notices.append)
    result = asyncio.run(call_with_retries(operation, policy=policy, what="open", sleep=recorder.sleep, rand=lambda: 1))
    assert result == "ok"
    assert recorder.waits == [2.5, 2]  # the 429's x-ms-retry-after-ms, then the backoff
    assert [(n.attempt, n.status) for n in notices] == [(1, 429), (2, None)]


def test_call_with_retries_gives_up_when_bounded_and_reraises_item_errors() -> None:
    async def unavailable() -> None:
        raise http_error(503)

    recorder = Recorder()
    with pytest.raises(StoreUnavailable) as caught:
        asyncio.run(call_with_retries(unavailable, policy=RetryPolicy(max_attempts=3), what="x", sleep=recorder.sleep))
    assert caught.value.attempts == 3 and len(recorder.waits) == 2

    async def bad_request() -> None:
        raise http_error(400)

    with pytest.raises(CosmosHttpResponseError):
        asyncio.run(call_with_retries(bad_request, policy=RetryPolicy.forever(), what="x", sleep=recorder.sleep))
