"""CPU time the processes of the local stack spend per tweet: what `triage demo` and `make bench-stream` report beside
throughput and latency. Two cores give 2,000 ms of CPU a second, so at 200 tweets/s everything together must stay
under 10 ms per tweet."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from tweet_triage.app.stack.manager import StackManager
from tweet_triage.app.stack.services import SERVICE_NAMES
from tweet_triage.settings import Settings

# The apps `triage demo` (and `stack up`) start beside the services, in the order a report lists them.
APP_NAMES = ("worker", "monitor", "api", "dashboard", "snapshots")


def stack_processes(settings: Settings) -> dict[str, psutil.Process]:
    """The running processes of the local stack by name: apps first, then the services."""
    manager = StackManager(settings, specs=[])
    found: dict[str, psutil.Process] = {}
    for name in (*APP_NAMES, *SERVICE_NAMES):
        record = manager.record(name)
        process = record.process() if record is not None else None
        if process is not None:
            found[name] = process
    return found


def cpu_seconds(process: psutil.Process) -> float | None:
    """User + system CPU seconds of ``process`` and of its children (the MLflow server runs uvicorn as a child);
    None when it has exited."""
    try:
        total = sum(process.cpu_times()[:2])
        for child in process.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                continue  # exited meanwhile: its time is lost to both snapshots alike
        return float(total)
    except psutil.Error:
        return None


@dataclass(frozen=True)
class CpuSnapshot:
    at: float  # time.monotonic()
    seconds: dict[str, float]  # process name -> CPU seconds so far

    @classmethod
    def take(cls, processes: Mapping[str, psutil.Process]) -> CpuSnapshot:
        seconds = {name: cpu_seconds(process) for name, process in processes.items()}
        return cls(time.monotonic(), {name: value for name, value in seconds.items() if value is not None})


@dataclass(frozen=True)
class CpuPerTweet:
    """CPU milliseconds per tweet of each process between two snapshots, in the snapshots' order."""

    ms: dict[str, float]
    tweets: int
    wall_s: float

    @classmethod
    def between(cls, before: CpuSnapshot, after: CpuSnapshot, tweets: int) -> CpuPerTweet:
        """Processes present in both snapshots (one that restarted in between is left out: its counter restarted)."""
        per = max(tweets, 1)
        ms = {
            name: 1000.0 * max(after.seconds[name] - start, 0.0) / per
            for name, start in before.seconds.items()
            if name in after.seconds and after.seconds[name] >= start
        }
        return cls(ms, tweets, after.at - before.at)

    @property
    def total_ms(self) -> float:
        return sum(self.ms.values())

    def describe(self) -> str:
        """One line: each process's share, then the total."""
        parts = [f"{name} {value:.1f}" for name, value in self.ms.items() if value >= 0.05]
        return f"{', '.join(parts)}; total {self.total_ms:.1f} ms/tweet"


def budget_ms(cores: int, rate: float) -> float:
    """The CPU time a tweet may cost in all, every process together, at ``rate`` tweets/s on ``cores`` cores."""
    return 1000.0 * cores / rate if rate > 0 else float("inf")
