"""Background processes tracked by pid files.

A pid file records the pid *and* the process start time, so a recycled pid is never mistaken for our service and
``down`` only ever signals processes that ``up`` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class PidRecord:
    pid: int
    started_at: float
    argv: list[str]
    port: int

    @classmethod
    def read(cls, path: Path) -> PidRecord | None:
        try:
            data = json.loads(path.read_text())
            return cls(
                pid=int(data["pid"]),
                started_at=float(data["started_at"]),
                argv=list(data["argv"]),
                port=int(data["port"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)

    def process(self) -> psutil.Process | None:
        """The live process this record describes, or None when it is gone (or the pid was reused)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.started_at) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None


def spawn(argv: Sequence[str], *, log_file: Path, cwd: Path, env: Mapping[str, str], port: int) -> PidRecord:
    """Start ``argv`` in its own session (so its whole process group can be stopped), output to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return PidRecord(pid=proc.pid, started_at=psutil.Process(proc.pid).create_time(), argv=list(argv), port=port)


def how_it_exited(record: PidRecord) -> str | None:
    """How a child we spawned ended ("exited with code 2", "was killed by signal 9"), or None while it runs."""
    try:
        pid, status = os.waitpid(record.pid, os.WNOHANG)
    except ChildProcessError:  # not our child any more: reaped elsewhere (a discarded Popen is reaped by the next one)
        return None if record.process() is not None else "exited (its exit code was collected elsewhere)"
    if pid == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def stop(record: PidRecord, timeout_s: float = 10.0) -> list[int]:
    """Stop the process and everything it started: SIGTERM, then SIGKILL after ``timeout_s``. Returns the pids."""
    root = record.process()
    if root is None:
        return []
    try:
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        family = [root]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(root.pid, signal.SIGTERM)
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(family, timeout=timeout_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout_s)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(root.pid, os.WNOHANG)
    return [proc.pid for proc in family]


def port_holder(host: str, port: int) -> str | None:
    """Describe who holds ``host:port`` if it cannot be bound, else None."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            pass
        else:
            return None
    for conn in _listening_connections():
        if conn.laddr and conn.laddr.port == port and conn.pid:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({proc.name()})"
    return "another process"


def _listening_connections() -> list[Any]:
    try:
        return [c for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    except psutil.Error:
        return []
