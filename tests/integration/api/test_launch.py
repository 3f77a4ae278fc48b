"""What `triage demo` does for serving: the API and the dashboard as app processes that `triage stack down` stops."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.serving import ServingEnv
from tweet_triage.app.launch import start_serving
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.app.stack.processes import PidRecord
from tweet_triage.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_demo_serving_starts_both_with_a_shared_key_and_stack_down_stops_them(
    serving: ServingEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in serving.env.items():
        if name.startswith("TRIAGE_") and name not in ("TRIAGE_API__KEYS", "TRIAGE_DASHBOARD__API_KEY"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRIAGE_STACK__STATE_DIR", str(tmp_path))  # our own pid files; the services stay untouched
    settings = load_settings()
    said: list[str] = []

    urls = start_serving(settings, said.append)

    assert urls.key_generated
    assert httpx.get(f"{urls.api}/readyz", timeout=5).json()["status"] == "ready"
    assert answers(f"{urls.dashboard}/_stcore/health")
    assert any("api starting" in line for line in said) and any("dashboard starting" in line for line in said)
    manager = StackManager(settings, specs=[])
    environ = {
        name: psutil.Process(record.pid).environ()
        for name in ("api", "dashboard")
        if (record := PidRecord.read(manager.pid_file(name))) is not None
    }
    key = environ["api"]["TRIAGE_API__KEYS"]
    assert len(key) >= 24 and environ["dashboard"]["TRIAGE_DASHBOARD__API_KEY"] == key
    assert all(key not in line for line in said), "the generated key is never printed"
    again = start_serving(settings, said.append)  # idempotent: both are reused, not started twice
    assert again.api == urls.api and sum("starting" in line for line in said) == 2

    stopped = manager.down()

    assert set(stopped) == {"api", "dashboard"}
    assert not answers(f"{urls.api}/healthz") and not answers(f"{urls.dashboard}/_stcore/health")
