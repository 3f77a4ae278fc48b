"""Retraining backends chosen by settings; the Azure ML one fails fast offline and names what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tweet_triage.errors import TriageError
from tweet_triage.monitoring.retrain import backends
from tweet_triage.monitoring.retrain.backends import AzureMlBackend, LocalBackend, RecordOnlyBackend, backend_for
from tweet_triage.monitoring.retrain.policy import RetrainTrigger, TriggerKind
from tweet_triage.monitoring.retrain.request import RetrainRequest
from tweet_triage.settings import load_settings

ALERT_ID = "al-20261126T0000-3f9a2c"
REQUEST = RetrainRequest("abc", RetrainTrigger(TriggerKind.DRIFT, "drift incident", "monitor"), "local")


@pytest.mark.parametrize(
    ("backend", "kind"), [("local", LocalBackend), ("azureml", AzureMlBackend), ("record-only", RecordOnlyBackend)]
)
def test_the_backend_follows_the_setting(backend: str, kind: type) -> None:
    assert isinstance(backend_for(load_settings(retrain={"backend": backend})), kind)


def test_record_only_says_how_to_run_the_request() -> None:
    assert f"triage retrain run {ALERT_ID}" in RecordOnlyBackend().start(ALERT_ID, REQUEST)


def test_azureml_without_a_workspace_fails_fast_naming_the_settings() -> None:
    backend = AzureMlBackend(load_settings(retrain={"backend": "azureml"}))
    with pytest.raises(TriageError, match="TRIAGE_AZUREML__SUBSCRIPTION_ID"):
        backend.start(ALERT_ID, REQUEST)


def test_a_local_retraining_runs_at_idle_priority_with_bounded_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = tmp_path / "triage"  # stands in for the `triage` executable: reports how it was started
    probe.write_text(
        "#!" + sys.executable + "\n"
        "import json, os, sys\n"
        "print(json.dumps({'policy': os.sched_getscheduler(0), 'nice': os.nice(0),\n"
        "                  'omp': os.environ.get('OMP_NUM_THREADS'), 'args': sys.argv[1:]}))\n"
    )
    probe.chmod(0o755)
    monkeypatch.setattr(backends, "_triage_executable", lambda: str(probe))
    settings = load_settings(stack={"state_dir": tmp_path / "state"}, retrain={"priority": "idle", "threads": 1})
    where = LocalBackend(settings).start(ALERT_ID, REQUEST)
    assert "idle CPU priority (SCHED_IDLE), 1 thread" in where
    log = tmp_path / "state" / "logs" / "retrain-abc.log"
    deadline = time.monotonic() + 30
    while not log.read_text().strip().endswith("}") and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the child's output with a deadline
    first, report = log.read_text().strip().splitlines()
    assert first.startswith(f"retraining {ALERT_ID}: idle CPU priority")
    seen = json.loads(report)
    assert seen["policy"] == os.SCHED_IDLE and seen["omp"] == "1"
    assert seen["args"] == ["retrain", "run", ALERT_ID]


def test_low_priority_is_nice_19() -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.nice(0))"],
        preexec_fn=lambda: backends.lower_priority("low"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(child.stdout) == 19
    assert backends.describe_priority("normal", 4) == "normal priority, 4 threads"
