"""Choose, on the CPU at hand, which graph of a model package to serve.

A package built on one CPU (an Azure ML node with AMX, say) is served on others (Container Apps, a laptop with AVX2
only). Its graphs all passed the same quantization rule where they were built; here each one scores the package's
probe tweets, must reproduce the logits recorded at build time (an int8 kernel that saturates on this CPU would not),
and is timed, interleaved with the others so that a busy moment hurts all of them alike. The fastest graph that
reproduces its outputs serves. The choice is logged with the model version and kept on the predictor.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import ModelError
from tweet_triage.model.calibration import softmax
from tweet_triage.model.hardware import CpuInfo, cpu_info

log = logging.getLogger(__name__)

TOLERANCE = 1e-3  # max |Δp| against the recorded outputs; exact int8 kernels differ by ~1e-6, saturation by ~1e-1
ROUNDS = 3

Logits = npt.NDArray[np.float32]
RunGraph = Callable[[Sequence[list[int]]], Logits]  # token ids -> logits, in input order


@dataclass(frozen=True)
class GraphTrial:
    graph: str
    tweets_per_second: float
    max_difference: float | None  # None: nothing recorded to compare with
    error: str | None = None

    @property
    def reproduces(self) -> bool:
        return self.error is None and (self.max_difference is None or self.max_difference <= TOLERANCE)


@dataclass(frozen=True)
class HostChoice:
    chosen: str
    trials: list[GraphTrial]
    cpu: CpuInfo

    def summary(self) -> str:
        parts = []
        for t in self.trials:
            if t.error is not None:
                parts.append(f"{t.graph}: failed ({t.error})")
            elif not t.reproduces:
                parts.append(f"{t.graph}: differs from its recorded outputs by {t.max_difference:.1e}, not used")
            else:
                parts.append(f"{t.graph} {t.tweets_per_second:.0f} tweets/s")
        return f"serving graph {self.chosen} on {self.cpu.model} ({self.cpu.int8_kernel}): " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "cpu": self.cpu.to_dict(),
            "trials": [
                {
                    "graph": t.graph,
                    "tweets_per_second": t.tweets_per_second,
                    "max_difference": t.max_difference,
                    "reproduces": t.reproduces,
                    "error": t.error,
                }
                for t in self.trials
            ],
        }


def choose_graph(
    runners: Mapping[str, RunGraph],
    token_ids: Sequence[list[int]],
    recorded: Mapping[str, Logits],
    *,
    temperature: float = 1.0,
    rounds: int = ROUNDS,
    clock: Callable[[], float] = time.perf_counter,
) -> HostChoice:
    """Check and time every graph on the probe; the fastest graph that reproduces its recorded logits wins.

    ``runners`` is in the package's order (fastest on the build host first), which breaks ties.
    """
    if not runners:
        raise ModelError("no graph to choose from")
    errors: dict[str, str] = {}
    differences: dict[str, float | None] = {}
    for name, run in runners.items():  # the first pass also warms each session up
        try:
            logits = run(token_ids)
        except Exception as exc:  # onnxruntime raises many unrelated types; one bad graph must not stop the others
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        expected = recorded.get(name)
        differences[name] = (
            None
            if expected is None
            else float(np.abs(softmax(logits, temperature) - softmax(expected, temperature)).max())
        )
    timings: dict[str, list[float]] = {name: [] for name in runners if name not in errors}
    for _ in range(rounds):
        for name, spent in timings.items():
            started = clock()
            runners[name](token_ids)
            spent.append(clock() - started)
    trials = [
        GraphTrial(name, 0.0, None, errors[name])
        if name in errors
        else GraphTrial(name, len(token_ids) / max(statistics.median(timings[name]), 1e-9), differences[name])
        for name in runners
    ]
    usable = [t for t in trials if t.reproduces]
    if not usable:
        raise ModelError(
            "no graph of this model package reproduces its recorded outputs on this CPU "
            f"({cpu_info().describe()}): " + "; ".join(f"{t.graph}: {t.error or t.max_difference}" for t in trials)
        )
    best = max(usable, key=lambda t: t.tweets_per_second)
    return HostChoice(best.graph, trials, cpu_info())
