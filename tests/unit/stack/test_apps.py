"""Starting an app beside the stack: one that already runs is reused — on its own port, or refused at once."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from tweet_triage.app.stack.apps import start_app
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.app.stack.processes import PidRecord
from tweet_triage.errors import StackError
from tweet_triage.settings import load_settings


def test_an_app_running_on_another_port_is_named_at_once_not_waited_for(tmp_path: Path) -> None:
    settings = load_settings(stack={"state_dir": tmp_path})
    me = psutil.Process(os.getpid())  # a live process standing in for a worker started earlier on port 16066
    PidRecord(me.pid, me.create_time(), ["triage", "worker"], port=16066).write(
        StackManager(settings, specs=[]).pid_file("worker")
    )
    said: list[str] = []
    with pytest.raises(StackError, match=r"already runs \(pid \d+\) on port 16066, not 16077"):
        start_app(
            settings,
            "worker",
            ["worker", "--web-port", "16077"],
            health_url="http://127.0.0.1:16077/healthz",
            port=16077,
            port_hint="choose another with --worker-port",
            env={},
            say=said.append,
            timeout_s=180,
        )
    assert said == [], "nothing was started"
