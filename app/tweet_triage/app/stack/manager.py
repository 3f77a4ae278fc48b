"""Start, check and stop the local stand-in services (`triage stack up | down | status | logs`)."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, TypeVar

from tweet_triage.app.stack import processes
from tweet_triage.app.stack.services import SERVICE_NAMES, ServiceSpec, build_specs
from tweet_triage.errors import PortInUseError, StackError
from tweet_triage.retry import Backoff, Clock, Failure, RetryPolicy, SyncSleep, retry_sync
from tweet_triage.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

_HEALTH_POLL: Final = Backoff(initial_s=0.05, max_s=0.5, jitter=False)  # readiness polling, bounded by a deadline
_PORT_POLL: Final = Backoff(initial_s=0.5, max_s=0.5, jitter=False)
_PORT_GRACE_S = 5.0


class State(StrEnum):
    RUNNING = "running"
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: State
    pid: int | None
    url: str
    detail: str
    log_file: Path


@dataclass(frozen=True)
class UpResult:
    name: str
    started: bool  # False: it was already running and healthy
    status: ServiceStatus


class _NotYet(Exception):
    """A poll's answer is "not yet": wait and ask again until the deadline."""


def _not_yet(error: BaseException) -> Failure:
    """Only "not yet" is polled again; any other error (a service that exited) ends the wait at once."""
    return Failure("service") if isinstance(error, _NotYet) else Failure("unexplained")


class StackManager:
    """Owns the pid files and logs under ``STATE_DIR/run`` and ``STATE_DIR/logs``. ``sleep`` and ``clock`` (monotonic
    seconds) pace the polls for health and free ports; tests inject them."""

    def __init__(
        self,
        settings: Settings,
        *,
        specs: list[ServiceSpec] | None = None,
        sleep: SyncSleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self._settings = settings
        self._state_dir = settings.stack.state_dir.resolve()
        self._specs = specs
        self._sleep = sleep
        self._clock = clock

    # ---- paths --------------------------------------------------------------------------------------------------

    def pid_file(self, name: str) -> Path:
        return self._state_dir / "run" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self._state_dir / "logs" / f"{name}.log"

    @property
    def specs(self) -> list[ServiceSpec]:
        if self._specs is None:
            self._specs = build_specs(self._settings)
        return self._specs

    # ---- commands -----------------------------------------------------------------------------------------------

    def up(self, on_event: Callable[[str], None] = log.info) -> list[UpResult]:
        """Start every service that is not already running, and return once each answers its health check."""
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._check_ports_free([spec for spec in self.specs if not self._is_alive(spec.name)])
        return [self._up_one(spec, on_event) for spec in self.specs]

    def down(
        self, on_event: Callable[[str], None] = log.info, *, before_services: Callable[[], None] | None = None
    ) -> dict[str, list[int]]:
        """Stop exactly the processes recorded in our pid files (and their children): apps started next to the stack
        (worker, API, dashboard, snapshots) first, then ``before_services`` runs (the final snapshot), then the
        services."""
        run_dir = self._state_dir / "run"
        apps = sorted(p.stem for p in run_dir.glob("*.pid") if p.stem not in SERVICE_NAMES) if run_dir.exists() else []
        stopped = self._stop(apps, on_event)
        if before_services is not None:
            before_services()
        return {**stopped, **self._stop(list(reversed(SERVICE_NAMES)), on_event)}

    def record(self, name: str) -> processes.PidRecord | None:
        """The pid record of a running service or app, or None when it is not running."""
        record = processes.PidRecord.read(self.pid_file(name))
        return record if record is not None and record.process() is not None else None

    def data_folders(self) -> list[Path]:
        """Everything the stack stores (what `stack down --purge` deletes); see the README's data folders table."""
        monitor = self._settings.monitor.resolved_state_dir(self._settings.stack).resolve()
        names = ("objects", "cosmos", "mlflow", "faust")
        return [*(self._state_dir / name for name in names), monitor, self._state_dir / "run"]

    def _stop(self, names: list[str], on_event: Callable[[str], None]) -> dict[str, list[int]]:
        stopped: dict[str, list[int]] = {}
        for name in names:
            pid_file = self.pid_file(name)
            record = processes.PidRecord.read(pid_file)
            if record is None:
                continue
            pids = processes.stop(record)
            pid_file.unlink(missing_ok=True)
            stopped[name] = pids
            on_event(f"{name}: stopped" if pids else f"{name}: was not running (stale pid file removed)")
        return stopped

    def status(self) -> list[ServiceStatus]:
        return [self._status_one(spec) for spec in self.specs]

    def logs(self, name: str, lines: int = 50) -> list[str]:
        if name not in SERVICE_NAMES:
            raise StackError(f"unknown service {name!r}; choose one of {', '.join(SERVICE_NAMES)}")
        path = self.log_file(name)
        if not path.exists():
            return []
        with path.open(encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]

    # ---- internals ----------------------------------------------------------------------------------------------

    def _is_alive(self, name: str) -> bool:
        record = processes.PidRecord.read(self.pid_file(name))
        return record is not None and record.process() is not None

    def _check_ports_free(self, specs: list[ServiceSpec]) -> None:
        """Fail fast on a port someone else holds — after a short grace: a service that was just killed may still
        be releasing its socket."""
        host = self._settings.stack.host

        def free() -> None:
            taken = [
                f"{spec.name}: port {spec.port} on {host} is already in use by {holder}, which the stack did not "
                f"start; stop it or set {spec.port_setting} to a free port"
                for spec in specs
                if (holder := processes.port_holder(host, spec.port)) is not None
            ]
            if taken:
                raise _NotYet("\n".join(taken))

        self._poll(
            free,
            what="free ports",
            backoff=_PORT_POLL,
            within_s=_PORT_GRACE_S,
            give_up=PortInUseError,
        )

    def _status_one(self, spec: ServiceSpec) -> ServiceStatus:
        record = processes.PidRecord.read(self.pid_file(spec.name))
        proc = record.process() if record else None
        if proc is None:
            return ServiceStatus(spec.name, State.STOPPED, None, spec.url, "not running", self.log_file(spec.name))
        result = spec.check()
        state = State.RUNNING if result.healthy else State.UNHEALTHY
        return ServiceStatus(spec.name, state, proc.pid, spec.url, result.detail, self.log_file(spec.name))

    def _up_one(self, spec: ServiceSpec, on_event: Callable[[str], None]) -> UpResult:
        pid_file = self.pid_file(spec.name)
        record = processes.PidRecord.read(pid_file)
        if record is not None and record.process() is not None:
            status = self._wait_healthy(spec, record)
            on_event(f"{spec.name}: already running (pid {record.pid})")
            return UpResult(spec.name, started=False, status=status)
        pid_file.unlink(missing_ok=True)
        self._check_ports_free([spec])
        log_file = self.log_file(spec.name)
        on_event(f"{spec.name}: starting on {spec.url} (log: {log_file})")
        record = processes.spawn(spec.argv, log_file=log_file, cwd=self._state_dir, env=spec.env, port=spec.port)
        record.write(pid_file)
        try:
            status = self._wait_healthy(spec, record)
        except StackError:
            processes.stop(record)
            pid_file.unlink(missing_ok=True)
            raise
        on_event(f"{spec.name}: healthy ({status.detail})")
        return UpResult(spec.name, started=True, status=status)

    def _wait_healthy(self, spec: ServiceSpec, record: processes.PidRecord) -> ServiceStatus:
        timeout_s = self._settings.stack.startup_timeout_s

        def healthy() -> ServiceStatus:
            result = spec.check()
            if result.healthy:
                return ServiceStatus(
                    spec.name, State.RUNNING, record.pid, spec.url, result.detail, self.log_file(spec.name)
                )
            ended = processes.how_it_exited(record)
            if ended is not None:
                raise StackError(self._failure(spec, f"{ended} before it was healthy"))
            raise _NotYet(result.detail)

        return self._poll(
            healthy,
            what=f"{spec.name} health check",
            backoff=_HEALTH_POLL,
            within_s=timeout_s,
            give_up=lambda detail: StackError(self._failure(spec, f"not healthy after {timeout_s:.0f} s ({detail})")),
        )

    def _poll(
        self,
        answer: Callable[[], T],
        *,
        what: str,
        backoff: Backoff,
        within_s: float,
        give_up: Callable[[str], Exception],
    ) -> T:
        """Ask ``answer()`` until it stops saying "not yet" (raising :class:`_NotYet`); once ``within_s`` have
        passed, raise ``give_up(the last "not yet")``. Waits are logged at debug level only: they are expected."""
        policy = RetryPolicy(max_attempts=None, backoff=backoff, max_elapsed_s=within_s, log_level=logging.DEBUG)
        return retry_sync(
            answer,
            policy=policy,
            classify=_not_yet,
            what=what,
            give_up=lambda last, _attempts: give_up(str(last)),
            sleep=self._sleep,
            clock=self._clock,
        )

    def _failure(self, spec: ServiceSpec, what: str) -> str:
        tail = "\n    ".join(self.logs(spec.name, lines=8)) or "(empty)"
        return f"{spec.name} {what}; see its log {self.log_file(spec.name)}. Last lines:\n    {tail}"
