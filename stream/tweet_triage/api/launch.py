"""Start the API and the dashboard in the background next to the local stack (what `triage demo` does).

Both run as app processes with pid files in the stack's state folder, exactly like the demo's worker, so
`triage stack down` stops them before the services. A process that is already running is reused.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tweet_triage.errors import StackError
from tweet_triage.settings import Settings, env_name
from tweet_triage.stack import processes
from tweet_triage.stack.manager import StackManager

API = "api"
DASHBOARD = "dashboard"


@dataclass(frozen=True)
class ServingUrls:
    api: str
    dashboard: str
    key_generated: bool


def start_serving(settings: Settings, say: Callable[[str], None], *, timeout_s: float = 180) -> ServingUrls:
    """Start (or reuse) `triage api` and `triage dashboard`; return once both answer their health checks."""
    env = dict(os.environ)
    generated = False
    if settings.api.keys is None:  # writes need a key: make one for this demo, handed to both processes only
        env[env_name(("api", "keys"))] = secrets.token_urlsafe(24)
        generated = True
    if settings.dashboard.api_key is None:
        first_key = env[env_name(("api", "keys"))].split(",")[0].strip()
        env[env_name(("dashboard", "api_key"))] = first_key
    if generated:
        _restart_lonely(settings)
    host = "127.0.0.1" if settings.dashboard.host == "0.0.0.0" else settings.dashboard.host
    dashboard_url = f"http://{host}:{settings.dashboard.port}"
    _start(settings, API, ["api"], f"{settings.api_url}/readyz", settings.api.port, env, say, timeout_s)
    _start(
        settings,
        DASHBOARD,
        ["dashboard"],
        f"{dashboard_url}/_stcore/health",
        settings.dashboard.port,
        env,
        say,
        timeout_s,
    )
    return ServingUrls(api=settings.api_url, dashboard=dashboard_url, key_generated=generated)


def _restart_lonely(settings: Settings) -> None:
    """A generated key lives only in the two processes: if just one of them survived, stop it so both share a key."""
    manager = StackManager(settings, specs=[])
    records = {name: processes.PidRecord.read(manager.pid_file(name)) for name in (API, DASHBOARD)}
    alive = {name for name, record in records.items() if record is not None and record.process() is not None}
    if len(alive) == 1:
        [name] = alive
        record = records[name]
        assert record is not None
        processes.stop(record)
        manager.pid_file(name).unlink(missing_ok=True)


def _start(
    settings: Settings,
    name: str,
    args: list[str],
    health_url: str,
    port: int,
    env: dict[str, str],
    say: Callable[[str], None],
    timeout_s: float,
) -> None:
    manager = StackManager(settings, specs=[])
    pid_file = manager.pid_file(name)
    record = processes.PidRecord.read(pid_file)
    if record is None or record.process() is None:
        holder = processes.port_holder("127.0.0.1", port)
        if holder is not None:
            raise StackError(f"{name}: port {port} is already in use by {holder}; set {env_name((name, 'port'))}")
        triage = str(Path(sys.executable).with_name("triage"))
        record = processes.spawn([triage, *args], log_file=manager.log_file(name), cwd=Path.cwd(), env=env, port=port)
        record.write(pid_file)
        say(f"{name} starting (log: {manager.log_file(name)})")
    deadline = time.monotonic() + timeout_s
    while not _ok(health_url):
        if record.process() is None:
            raise StackError(f"the {name} exited; see {manager.log_file(name)}")
        if time.monotonic() > deadline:
            raise StackError(f"the {name} was not ready after {timeout_s:.0f} s; see {manager.log_file(name)}")
        time.sleep(0.5)  # readiness polling with a deadline


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
