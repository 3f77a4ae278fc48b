"""`stack up` waits: a service is polled until healthy within its startup timeout, and a port someone else holds
gets a short grace before the stack refuses to start (a fake clock that sleep advances; nothing is started)."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from tweet_triage.app.stack import processes
from tweet_triage.app.stack.health import HealthResult
from tweet_triage.app.stack.manager import StackManager, State
from tweet_triage.app.stack.services import BROKER, ServiceSpec
from tweet_triage.errors import PortInUseError, StackError
from tweet_triage.settings import load_settings


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def spec(answers: list[bool], port: int = 0) -> ServiceSpec:
    def check() -> HealthResult:
        healthy = answers.pop(0) if answers else False
        return HealthResult(healthy, "ready" if healthy else "starting")

    return ServiceSpec(BROKER, "a broker", ["broker"], port, "TRIAGE_STACK__KAFKA_PORT", "http://x", check)


def manager_with_a_running_broker(tmp_path: Path, answers: list[bool], fake: FakeTime) -> StackManager:
    """A manager whose broker pid file names this very process: `up` finds it running and only waits for health."""
    settings = load_settings(stack={"state_dir": tmp_path, "startup_timeout_s": 1.0})
    manager = StackManager(settings, specs=[spec(answers)], sleep=fake.sleep, clock=fake.clock)
    me = psutil.Process()
    manager.pid_file(BROKER).parent.mkdir(parents=True)
    processes.PidRecord(pid=me.pid, started_at=me.create_time(), argv=[], port=0).write(manager.pid_file(BROKER))
    return manager


def test_a_service_is_polled_with_growing_waits_until_healthy(tmp_path: Path) -> None:
    fake = FakeTime()
    manager = manager_with_a_running_broker(tmp_path, [False, False, True], fake)
    [result] = manager.up(on_event=lambda line: None)
    assert not result.started and result.status.state is State.RUNNING and result.status.detail == "ready"
    assert fake.waits == [0.05, 0.1]


def test_a_service_not_healthy_within_its_startup_timeout_fails_naming_its_state(tmp_path: Path) -> None:
    fake = FakeTime()
    manager = manager_with_a_running_broker(tmp_path, [], fake)
    with pytest.raises(StackError, match=r"broker not healthy after 1 s \(starting\)"):
        manager.up(on_event=lambda line: None)
    assert fake.waits == [0.05, 0.1, 0.2, 0.4, 0.5]  # capped at 0.5 s; no wait after the deadline


def test_a_port_held_by_someone_else_is_refused_after_the_grace(tmp_path: Path) -> None:
    fake = FakeTime()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        settings = load_settings(stack={"state_dir": tmp_path})
        held = spec([True], port=holder.getsockname()[1])
        manager = StackManager(settings, specs=[held], sleep=fake.sleep, clock=fake.clock)
        with pytest.raises(PortInUseError, match=r"already in use by .*TRIAGE_STACK__KAFKA_PORT"):
            manager.up(on_event=lambda line: None)
    assert fake.waits == [0.5] * 10  # polled every 0.5 s for the 5 s grace
