"""Where a retraining runs: here (``local``), in Azure ML (``azureml``), or nowhere (``record-only``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.retrain.service import RetrainBackend
from tweet_triage.settings import Settings


class LocalBackend:
    """Runs ``triage retrain run REQUEST_ID`` as its own process (the pipeline is a tracked MLflow run)."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def start(self, request: Alert) -> str:
        logs = self._settings.stack.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"retrain-{request.details['request_id']}.log"
        command = [_triage_executable(), "retrain", "run", request.id]
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        return f"local process {process.pid}, log {log_path}"


class AzureMlBackend:
    """Submits the Azure ML retraining pipeline (definitions in ``tweet_triage.deploy.azureml``)."""

    name = "azureml"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def start(self, request: Alert) -> str:
        from tweet_triage.deploy.azureml.jobs import submit_retrain

        job = submit_retrain(self._settings, reason=f"{request.details['trigger']}: {request.details['reason']}")
        return f"azureml job {job}"


class RecordOnlyBackend:
    name = "record-only"

    def start(self, request: Alert) -> str:
        return (
            "recorded only (TRIAGE_RETRAIN__BACKEND=record-only): start it with `triage retrain run " + request.id + "`"
        )


def backend_for(settings: Settings) -> RetrainBackend:
    backends: dict[str, type[LocalBackend] | type[AzureMlBackend]] = {"local": LocalBackend, "azureml": AzureMlBackend}
    if settings.retrain.backend == "record-only":
        return RecordOnlyBackend()
    return backends[settings.retrain.backend](settings)


def _triage_executable() -> str:
    candidate = Path(sys.executable).with_name("triage")
    return str(candidate) if candidate.exists() else os.environ.get("TRIAGE_EXECUTABLE", "triage")
