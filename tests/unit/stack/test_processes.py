from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import psutil

from tests.helpers import wait_until
from tweet_triage.app.stack import processes


def test_pid_record_round_trips_and_ignores_garbage(tmp_path: Path) -> None:
    record = processes.PidRecord(pid=123, started_at=1.5, argv=["x"], port=9)
    record.write(tmp_path / "svc.pid")
    assert processes.PidRecord.read(tmp_path / "svc.pid") == record
    (tmp_path / "bad.pid").write_text("{not json")
    assert processes.PidRecord.read(tmp_path / "bad.pid") is None
    assert processes.PidRecord.read(tmp_path / "missing.pid") is None


def test_a_reused_pid_is_not_taken_for_our_process() -> None:
    me = psutil.Process()
    ours = processes.PidRecord(pid=me.pid, started_at=me.create_time(), argv=[], port=0)
    recycled = processes.PidRecord(pid=me.pid, started_at=me.create_time() - 3600, argv=[], port=0)
    assert ours.process() is not None
    assert recycled.process() is None


def test_spawn_and_stop_take_down_the_whole_process_family(tmp_path: Path) -> None:
    # A parent that starts a grandchild, like the MLflow server does.
    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)"
    )
    record = processes.spawn([sys.executable, "-c", script], log_file=tmp_path / "x.log", cwd=tmp_path, env={}, port=0)
    proc = record.process()
    assert proc is not None
    children = wait_until(lambda: proc.children(recursive=True), timeout_s=10, what="the grandchild to start")
    stopped = processes.stop(record, timeout_s=5)
    assert set(stopped) >= {record.pid, *(child.pid for child in children)}
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE for pid in stopped)
    assert record.process() is None


def test_port_holder_names_the_process_holding_a_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        holder = processes.port_holder("127.0.0.1", port)
        assert holder is not None
        assert str(psutil.Process().pid) in holder
    assert processes.port_holder("127.0.0.1", port) is None


def _ended(tmp_path: Path, code: str) -> processes.PidRecord:
    """A child that ran ``code`` and has ended, not yet reaped (waitid with WNOWAIT leaves it for how_it_exited)."""
    record = processes.spawn(
        [sys.executable, "-c", code], log_file=tmp_path / "child.log", cwd=tmp_path, env={}, port=0
    )
    os.waitid(os.P_PID, record.pid, os.WEXITED | os.WNOWAIT)
    return record


def test_how_a_child_ended_is_said_in_words(tmp_path: Path) -> None:
    assert processes.how_it_exited(_ended(tmp_path, "raise SystemExit(3)")) == "exited with code 3"
    killed = _ended(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert processes.how_it_exited(killed) == "was killed by signal 9"
    reaped = _ended(tmp_path, "pass")
    os.waitpid(reaped.pid, 0)  # what a discarded Popen's cleanup does to it
    assert processes.how_it_exited(reaped) == "exited (its exit code was collected elsewhere)"


def test_a_running_child_has_not_ended(tmp_path: Path) -> None:
    record = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"], log_file=tmp_path / "c.log", cwd=tmp_path, env={}, port=0
    )
    try:
        assert processes.how_it_exited(record) is None
    finally:
        processes.stop(record)
