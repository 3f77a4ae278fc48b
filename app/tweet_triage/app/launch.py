"""Start the API and the dashboard in the background next to the local stack (what `triage demo` does).

Both run as app processes with pid files in the stack's state folder, exactly like the demo's worker, so
`triage stack down` stops them before the services. A process that is already running is reused.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from tweet_triage.app.stack import processes
from tweet_triage.app.stack.apps import start_app
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.settings import Settings, env_name

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
    start_app(
        settings,
        API,
        ["api"],
        health_url=f"{settings.api_url}/readyz",
        port=settings.api.port,
        port_hint=f"set {env_name(('api', 'port'))}",
        env=env,
        say=say,
        timeout_s=timeout_s,
    )
    start_app(
        settings,
        DASHBOARD,
        ["dashboard"],
        health_url=f"{dashboard_url}/_stcore/health",
        port=settings.dashboard.port,
        port_hint=f"set {env_name(('dashboard', 'port'))}",
        env=env,
        say=say,
        timeout_s=timeout_s,
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
