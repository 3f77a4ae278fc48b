"""Where a retraining runs: here (``local``), in Azure ML (``azureml``), or nowhere (``record-only``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tweet_triage.deploy.azureml.jobs import submit_retrain
from tweet_triage.monitoring.retrain.request import RetrainRequest
from tweet_triage.monitoring.retrain.service import RetrainBackend
from tweet_triage.settings import Settings


class LocalBackend:
    """Runs ``triage retrain run REQUEST_ID`` as its own process (the pipeline is a tracked MLflow run).

    On the machine that also triages, a fine-tune would take every core and the stream would fall behind (measured:
    59 tweets/s and p99 36 s beside one). So the run gets the CPU only when nothing else wants it (``SCHED_IDLE``,
    or nice 19) and a bounded number of threads (``TRIAGE_RETRAIN__PRIORITY`` / ``THREADS``); both are recorded on
    the request and written at the top of its log.
    """

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def start(self, alert_id: str, request: RetrainRequest) -> str:
        retrain = self._settings.retrain
        logs = self._settings.stack.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"retrain-{request.request_id}.log"
        command = [_triage_executable(), "retrain", "run", alert_id]
        priority = describe_priority(retrain.priority, retrain.threads)
        with log_path.open("ab") as out:
            out.write(f"retraining {alert_id}: {priority}\n".encode())
            out.flush()
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **thread_limits(retrain.threads)},
                preexec_fn=lambda: lower_priority(retrain.priority),  # noqa: PLW1509 - only os calls, no locks
            )
        return f"local process {process.pid} at {priority}, log {log_path}"


def thread_limits(threads: int) -> dict[str, str]:
    """Environment that caps the math libraries' thread pools in the child (torch reads it at start)."""
    value = str(threads)
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value, "TRIAGE_RETRAIN__THREADS": value}


def lower_priority(priority: str) -> None:
    """Run in the child before exec: SCHED_IDLE (Linux) or nice 19; ``normal`` changes nothing."""
    if priority == "idle" and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:
            pass  # not allowed here: fall back to the lowest nice value
    if priority in ("idle", "low"):
        os.nice(19)


def describe_priority(priority: str, threads: int) -> str:
    cpu = {"idle": "idle CPU priority (SCHED_IDLE)", "low": "low CPU priority (nice 19)"}.get(
        priority, "normal priority"
    )
    return f"{cpu}, {threads} thread{'s' if threads != 1 else ''}"


class AzureMlBackend:
    """Submits the Azure ML retraining pipeline (definitions in ``tweet_triage.deploy.azureml``)."""

    name = "azureml"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def start(self, alert_id: str, request: RetrainRequest) -> str:
        job = submit_retrain(self._settings, reason=f"{request.trigger.kind}: {request.trigger.reason}")
        return f"azureml job {job}"


class RecordOnlyBackend:
    name = "record-only"

    def start(self, alert_id: str, request: RetrainRequest) -> str:
        return f"recorded only (TRIAGE_RETRAIN__BACKEND=record-only): start it with `triage retrain run {alert_id}`"


def backend_for(settings: Settings) -> RetrainBackend:
    backends: dict[str, type[LocalBackend] | type[AzureMlBackend]] = {"local": LocalBackend, "azureml": AzureMlBackend}
    if settings.retrain.backend == "record-only":
        return RecordOnlyBackend()
    return backends[settings.retrain.backend](settings)


def _triage_executable() -> str:
    candidate = Path(sys.executable).with_name("triage")
    return str(candidate) if candidate.exists() else os.environ.get("TRIAGE_EXECUTABLE", "triage")
