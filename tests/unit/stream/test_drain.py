"""The drain rule: wait for running consumers, refuse when something is pending and nobody consumes it."""

from __future__ import annotations

import pytest

from tweet_triage.app.drain import DrainRefused, drain, join_window_s, refusal, verdict
from tweet_triage.broker.backlog import Backlog, Consumer
from tweet_triage.settings import Settings, load_settings

WORKER = Consumer(
    "stream worker", "tweet-triage", ("tweets",), required=True, start_hint="start one with `triage worker`"
)
MONITOR = Consumer("monitor", "tweet-triage-monitor", ("tweets-scored",), required=False, start_hint="start it")


def test_pending_with_a_running_consumer_is_waited_for() -> None:
    result = verdict([Backlog(WORKER, "tweets", 40, True, members=1), Backlog(MONITOR, "tweets-scored", 2, True, 1)])
    assert (result.pending, result.stuck, result.drained) == (42, [], False)


def test_nothing_pending_is_drained() -> None:
    assert verdict([Backlog(WORKER, "tweets", 0, True, members=0)]).drained


def test_pending_without_a_consumer_is_stuck_even_if_the_worker_never_ran() -> None:
    stuck = Backlog(WORKER, "tweets", 25, committed_any=False, members=0)
    assert verdict([stuck]).stuck == [stuck]


def test_a_monitor_that_never_ran_does_not_block_but_one_that_ran_does() -> None:
    never = Backlog(MONITOR, "tweets-scored", 500, committed_any=False, members=0)
    ran = Backlog(MONITOR, "tweets-scored", 5, committed_any=True, members=0)
    assert verdict([never]).drained
    assert verdict([ran]).stuck == [ran]


def test_the_refusal_says_what_is_pending_how_to_fix_it_and_what_force_costs() -> None:
    stuck = [Backlog(WORKER, "tweets", 1234, True, 0)]
    memory = refusal(stuck, durable=False)
    assert "1,234 record(s) in `tweets` not yet processed by the stream worker (group tweet-triage)" in memory
    assert "`triage worker`" in memory and "`--force`" in memory and "would be lost" in memory
    assert "processed once it runs again" in refusal(stuck, durable=True)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def settings_with_join_window() -> Settings:
    settings = load_settings(kafka={"session_timeout_s": 10, "rebalance_timeout_s": 10})
    assert join_window_s(settings) == 20
    return settings


def test_a_consumer_that_joins_within_the_join_window_is_waited_for() -> None:
    clock = FakeClock()
    pending = [300]

    def probe() -> list[Backlog]:
        members = 1 if clock.now >= 5 else 0  # the worker joins its group 5 s after the drain starts
        if members:
            pending[0] = max(0, pending[0] - 100)
        return [Backlog(WORKER, "tweets", pending[0], True, members)]

    processed = drain(settings_with_join_window(), timeout_s=60, clock=clock, sleep=clock.sleep, probe=probe)
    assert processed == 300 and pending == [0]


def test_a_group_empty_for_its_whole_join_window_is_refused_then_and_not_before() -> None:
    clock = FakeClock()
    seen: list[float] = []

    def probe() -> list[Backlog]:
        seen.append(clock.now)
        return [Backlog(WORKER, "tweets", 25, False, 0)]

    with pytest.raises(DrainRefused, match="25 record"):
        drain(settings_with_join_window(), timeout_s=300, clock=clock, sleep=clock.sleep, probe=probe)
    assert seen[-1] == pytest.approx(20)  # refused once the join window had passed, well before the timeout
