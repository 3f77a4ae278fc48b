"""Application processes next to the local stack (worker, monitor, API, dashboard): started in the background with
a pid file in the stack's state folder, so `triage stack down` stops them before the services. A process that is
already running is reused; readiness is its own health URL answering 200 within a deadline."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tweet_triage.app.stack import processes
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.errors import StackError
from tweet_triage.settings import Settings


def start_app(
    settings: Settings,
    name: str,
    args: list[str],
    *,
    health_url: str,
    port: int,
    port_hint: str,
    env: dict[str, str],
    say: Callable[[str], None],
    timeout_s: float,
) -> None:
    """Start ``triage ARGS`` as app ``name`` unless it runs already; return once ``health_url`` answers 200."""
    manager = StackManager(settings, specs=[])
    pid_file = manager.pid_file(name)
    record = processes.PidRecord.read(pid_file)
    if record is None or record.process() is None:
        holder = processes.port_holder("127.0.0.1", port)
        if holder is not None:
            raise StackError(f"{name}: port {port} is already in use by {holder}; {port_hint}")
        triage = str(Path(sys.executable).with_name("triage"))
        record = processes.spawn([triage, *args], log_file=manager.log_file(name), cwd=Path.cwd(), env=env, port=port)
        record.write(pid_file)
        say(f"{name} starting (log: {manager.log_file(name)})")
    elif record.port != port:
        raise StackError(
            f"the {name} already runs (pid {record.pid}) on port {record.port}, not {port}: use that port, or stop it "
            "first with `triage stack down`"
        )
    deadline = time.monotonic() + timeout_s
    while not healthy(health_url):
        if record.process() is None:
            raise StackError(f"the {name} exited; see {manager.log_file(name)}")
        if time.monotonic() > deadline:
            raise StackError(f"the {name} was not ready after {timeout_s:.0f} s; see {manager.log_file(name)}")
        time.sleep(0.5)  # readiness polling with a deadline


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
