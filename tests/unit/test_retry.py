"""The one retry loop: waits, when it gives up, what it reports — with a fake sleep and clock, so nothing waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tweet_triage.retry import Attempts, Backoff, Failure, GiveUp, RetryNotice, RetryPolicy, retry, retry_sync


class Away(Exception):
    """The dependency as a whole cannot serve; ``hint``: its own idea of when to try again."""

    def __init__(self, message: str = "", hint: float | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Refused(Exception):
    """The dependency refused this one request."""


def classify(error: BaseException) -> Failure:
    if isinstance(error, Away):
        return Failure("service", status=503, retry_after=error.hint)
    return Failure("item" if isinstance(error, Refused) else "unexplained")


class FakeTime:
    """``sleep`` records each wait and moves ``clock`` on by it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def clock(self) -> float:
        return self.now


def failing(errors: list[Exception], result: str = "ok") -> Callable[[], str]:
    """An operation that raises ``errors`` one by one, then returns ``result``."""

    def operation() -> str:
        if errors:
            raise errors.pop(0)
        return result

    return operation


def run_async(
    operation: Callable[[], str], fake: FakeTime, *, policy: RetryPolicy, what: str, give_up: GiveUp | None = None
) -> str:
    async def attempt() -> str:
        return operation()

    return asyncio.run(
        retry(
            attempt,
            policy=policy,
            classify=classify,
            what=what,
            give_up=give_up,
            sleep=fake.async_sleep,
            rand=lambda: 1.0,
            clock=fake.clock,
        )
    )


def run_sync(
    operation: Callable[[], str], fake: FakeTime, *, policy: RetryPolicy, what: str, give_up: GiveUp | None = None
) -> str:
    return retry_sync(
        operation,
        policy=policy,
        classify=classify,
        what=what,
        give_up=give_up,
        sleep=fake.sleep,
        rand=lambda: 1.0,
        clock=fake.clock,
    )


both = pytest.mark.parametrize("run", [run_async, run_sync], ids=["async", "sync"])


def test_backoff_grows_exponentially_with_equal_jitter_and_a_cap() -> None:
    backoff = Backoff(initial_s=0.1, max_s=2.0, multiplier=2.0)
    assert [backoff.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5, 6)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert [backoff.delay(n, rand=lambda: 0.0) for n in (1, 2, 6)] == [0.05, 0.1, 1.0]


def test_backoff_without_jitter_waits_the_ceiling_itself() -> None:
    backoff = Backoff(initial_s=1.0, max_s=30.0, jitter=False)
    assert [backoff.delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 5, 6, 7)] == [1.0, 2.0, 4.0, 16.0, 30.0, 30.0]


def test_backoff_never_waits_less_than_the_hint_and_survives_endless_outages() -> None:
    backoff = Backoff(initial_s=0.1, max_s=2.0)
    assert backoff.delay(1, retry_after=1.5, rand=lambda: 0.0) == 1.5
    assert backoff.delay(100_000, rand=lambda: 1.0) == 2.0  # no float overflow after days of retrying


@pytest.mark.parametrize("kwargs", [{"initial_s": 0}, {"initial_s": 2, "max_s": 1}, {"multiplier": 0.5}])
def test_nonsense_backoffs_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"max_elapsed_s": -1.0}])
def test_nonsense_policies_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


@both
def test_transient_failures_are_waited_out_reported_each_round_and_the_recovery_once(run: Callable[..., str]) -> None:
    fake, notices, recovered = FakeTime(), list[RetryNotice](), list[str]()
    policy = RetryPolicy.forever(
        backoff=Backoff(initial_s=1, max_s=3), on_retry=notices.append, on_recovered=recovered.append
    )
    assert run(failing([Away(), Away(), Away(), Away()]), fake, policy=policy, what="open") == "ok"
    assert fake.waits == [1, 2, 3, 3]
    assert [(n.operation, n.attempt, n.delay_s, n.status) for n in notices] == [
        ("open", 1, 1, 503),
        ("open", 2, 2, 503),
        ("open", 3, 3, 503),
        ("open", 4, 3, 503),
    ]
    assert recovered == ["open"]


@both
def test_a_success_at_once_reports_nothing(run: Callable[..., str]) -> None:
    fake, recovered = FakeTime(), list[str]()
    assert run(failing([]), fake, policy=RetryPolicy(on_recovered=recovered.append), what="x") == "ok"
    assert fake.waits == [] and recovered == []


@both
@pytest.mark.parametrize("error", [Refused("bad request"), KeyError("bug")])
def test_errors_that_are_not_the_dependencys_are_raised_at_once(run: Callable[..., str], error: Exception) -> None:
    fake = FakeTime()
    with pytest.raises(type(error)):
        run(failing([Away(), error]), fake, policy=RetryPolicy.forever(), what="x")
    assert len(fake.waits) == 1  # only the outage before it was waited for


@both
def test_a_spent_policy_raises_the_last_error_or_what_give_up_makes_of_it(run: Callable[..., str]) -> None:
    fake, notices = FakeTime(), list[RetryNotice]()
    last, policy = Away("third"), RetryPolicy(max_attempts=3, on_retry=notices.append)
    with pytest.raises(Away) as caught:
        run(failing([Away(), Away(), last]), fake, policy=policy, what="x")
    assert caught.value is last
    assert len(fake.waits) == 2 and len(notices) == 2  # no wait and no notice after the last attempt

    with pytest.raises(RuntimeError, match="gave up after 2: Away") as given_up:
        run(
            failing([Away(), last]),
            FakeTime(),
            policy=RetryPolicy(max_attempts=2),
            what="x",
            give_up=lambda error, attempts: RuntimeError(f"gave up after {attempts}: {type(error).__name__}"),
        )
    assert given_up.value.__cause__ is last


@both
def test_a_time_budget_ends_the_retries_once_it_has_passed(run: Callable[..., str]) -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=None, backoff=Backoff(initial_s=0.5, max_s=0.5, jitter=False), max_elapsed_s=2)
    with pytest.raises(Away):
        run(failing([Away()] * 100), fake, policy=policy, what="x")
    assert fake.waits == [0.5] * 4  # failures at 0, 0.5, 1, 1.5 s wait; the one at 2 s gives up


@both
def test_the_dependencys_hint_lengthens_a_wait(run: Callable[..., str]) -> None:
    fake = FakeTime()
    run(failing([Away(hint=7.0), Away()]), fake, policy=RetryPolicy(backoff=Backoff(initial_s=1, max_s=8)), what="x")
    assert fake.waits == [7.0, 2.0]


def test_rounds_counted_by_hand_report_what_is_pending_and_take_the_rounds_hint() -> None:
    notices: list[RetryNotice] = []
    attempts = Attempts(RetryPolicy(max_attempts=2, on_retry=notices.append), "upsert", rand=lambda: 1.0)
    assert attempts.failed(Away(), classify(Away()), pending=7, retry_after=4.0) == 4.0
    assert attempts.failed(Away(), classify(Away()), pending=3) is None  # spent: the caller raises its own error
    assert [(n.attempt, n.pending) for n in notices] == [(1, 7)] and attempts.count == 2


def test_each_round_is_logged_at_the_policys_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tweet_triage.retry")
    quiet = RetryPolicy(max_attempts=None, log_level=logging.DEBUG)
    run_sync(failing([Away("not yet")]), FakeTime(), policy=quiet, what="health check")
    assert [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records] == [
        (logging.DEBUG, "health check failed"),
        (logging.DEBUG, "health check succeeded after 1 failed attempt(s)"),
    ]
    caplog.clear()
    run_sync(failing([Away("down")]), FakeTime(), policy=RetryPolicy(), what="upsert")
    assert {r.levelno for r in caplog.records} == {logging.WARNING}
