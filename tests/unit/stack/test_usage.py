"""CPU per tweet of the stack's processes: the difference of two snapshots over the tweets, per process."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from tweet_triage.app.stack.manager import StackManager
from tweet_triage.app.stack.processes import PidRecord
from tweet_triage.app.stack.usage import CpuPerTweet, CpuSnapshot, budget_ms, cpu_seconds, stack_processes
from tweet_triage.settings import load_settings


def test_cpu_per_tweet_is_each_processes_cpu_time_over_the_tweets() -> None:
    before = CpuSnapshot(10.0, {"worker": 2.0, "broker": 1.0, "monitor": 5.0, "api": 1.0})
    after = CpuSnapshot(25.0, {"worker": 8.0, "broker": 1.5, "api": 0.5})  # monitor gone; api restarted
    cpu = CpuPerTweet.between(before, after, tweets=1000)
    assert cpu.ms == {"worker": pytest.approx(6.0), "broker": pytest.approx(0.5)}
    assert cpu.total_ms == pytest.approx(6.5) and cpu.wall_s == 15.0
    assert cpu.describe() == "worker 6.0, broker 0.5; total 6.5 ms/tweet"


def test_two_cores_at_200_tweets_a_second_leave_10_ms_a_tweet() -> None:
    assert budget_ms(2, 200.0) == pytest.approx(10.0)
    assert budget_ms(2, 0.0) == float("inf")


def test_a_process_is_measured_with_its_children() -> None:
    me = psutil.Process()
    sum(i * i for i in range(200_000))  # some CPU time of our own
    own = sum(me.cpu_times()[:2])  # read first: the counters only grow
    assert (cpu_seconds(me) or 0.0) >= own > 0


def test_the_stack_processes_are_the_running_ones_of_the_pid_files(tmp_path: Path) -> None:
    settings = load_settings(stack={"state_dir": tmp_path})
    manager = StackManager(settings, specs=[])
    me = psutil.Process(os.getpid())
    PidRecord(me.pid, me.create_time(), ["triage", "worker"], port=1).write(manager.pid_file("worker"))
    PidRecord(me.pid, me.create_time() - 100, ["tansu"], port=2).write(manager.pid_file("broker"))  # pid reused
    assert list(stack_processes(settings)) == ["worker"]
