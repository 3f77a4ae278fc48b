"""The local stack against the real services: up, healthy, idempotent, down leaves nothing, clear port errors."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from tests.conftest import make_stack_settings
from tweet_triage.app.stack.manager import StackManager, State
from tweet_triage.app.stack.services import SERVICE_NAMES, build_specs
from tweet_triage.errors import PortInUseError, StackError

pytestmark = pytest.mark.integration


def _family(pid: int) -> set[int]:
    proc = psutil.Process(pid)
    return {pid, *(child.pid for child in proc.children(recursive=True))}


def test_up_is_healthy_idempotent_and_down_leaves_no_process(tmp_path: Path, node_dir: Path) -> None:
    manager = StackManager(make_stack_settings(tmp_path / "state", node_dir))
    try:
        first = manager.up()
        assert [result.name for result in first] == list(SERVICE_NAMES)
        assert all(result.started for result in first)
        statuses = manager.status()
        assert all(status.state is State.RUNNING for status in statuses), statuses
        pids = {status.name: status.pid for status in statuses}
        family = set().union(*(_family(pid) for pid in pids.values() if pid))
        assert all(manager.pid_file(name).exists() for name in SERVICE_NAMES)

        second = manager.up()
        assert not any(result.started for result in second)
        assert {result.name: result.status.pid for result in second} == pids
    finally:
        manager.down()

    assert not any(manager.pid_file(name).exists() for name in SERVICE_NAMES)
    survivors = [
        pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert survivors == []
    assert all(status.state is State.STOPPED for status in manager.status())


def test_a_taken_port_names_the_port_and_the_setting_and_starts_nothing(tmp_path: Path, node_dir: Path) -> None:
    settings = make_stack_settings(tmp_path / "state", node_dir)
    manager = StackManager(settings)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.stack.cosmos_port))
        squatter.listen(1)
        with pytest.raises(PortInUseError) as error:
            manager.up()
    message = str(error.value)
    assert str(settings.stack.cosmos_port) in message
    assert "TRIAGE_STACK__COSMOS_PORT" in message
    assert all(status.state is State.STOPPED for status in manager.status())


def test_a_service_that_dies_at_start_is_named_with_its_log(tmp_path: Path, node_dir: Path) -> None:
    settings = make_stack_settings(tmp_path / "state", node_dir)
    broker = next(spec for spec in build_specs(settings) if spec.name == "broker")
    manager = StackManager(settings, specs=[replace(broker, argv=[broker.argv[0], "no-such-subcommand"])])
    with pytest.raises(StackError, match=r"broker exited .*before it was healthy; see its log .*broker\.log"):
        manager.up()
    assert not manager.pid_file("broker").exists()
