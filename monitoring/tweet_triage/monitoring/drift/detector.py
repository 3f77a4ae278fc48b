"""The project's drift-detector interface: one observation in, one reading out, state that can be saved.

The engine behind it is swappable (alibi-detect is BSL-1.1, see the README's licensing section): the monitor only
sees :class:`OnlineDetector`. A detector's *calibration* (its thresholds) is expensive and depends only on the
reference sample and the settings, so engines cache it; its *state* (the current test window) is small and is
saved and restored so a restart continues where the last run stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import MonitorError
from tweet_triage.settings import DriftEngine


@dataclass(frozen=True)
class DriftReading:
    """What one detector says after one more tweet."""

    detector: str
    t: int
    statistic: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DetectorSpec:
    """Everything that determines a detector's thresholds (and so the cache key), apart from the reference."""

    engine: DriftEngine | str  # the embedding detector's DriftEngine; the name of the test for the others
    ert: int
    window_size: int
    n_bootstraps: int
    seed: int


class OnlineDetector(Protocol):
    """An online two-sample test between a fixed reference sample and a sliding window of the stream."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> DetectorSpec: ...

    @property
    def t(self) -> int: ...

    def update(self, x: npt.NDArray[np.float32]) -> DriftReading:
        """Add one observation (1-D) to the test window and test it against the reference."""
        ...

    def save_state(self, folder: Path) -> None: ...

    def load_state(self, folder: Path) -> None:
        """Restore what :meth:`save_state` wrote; raise ``MonitorStateError`` if it does not fit this detector."""
        ...


def output_features(probabilities: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """What the output detector sees of each tweet: its class probabilities without the redundant last one."""
    array = np.asarray(probabilities, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.shape[-1] < 2:
        raise MonitorError("the output detector needs at least two class probabilities")
    return np.ascontiguousarray(array[..., :-1])
