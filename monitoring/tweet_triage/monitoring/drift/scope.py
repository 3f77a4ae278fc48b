"""The out-of-scope share detector: how many of the last tweets are in a language the model was not trained on.

The embedding and output detectors compare what the *model* makes of the stream with its reference, and a model that
does not read a language maps its tweets onto the same few directions it uses for English ones (see
docs/decisions.md, decision 17): a switch to Spanish tweets barely moves either statistic. The language flag on each
scored event does not depend on the model, so this detector counts it: in a window of the last
``window_size`` tweets, it fires when the number of out-of-scope tweets is so high that normal traffic (at most
``baseline_share`` of them out of scope) reaches it with probability below ``alpha`` per tweet (a one-sided binomial
tail). With the defaults (window 50, baseline 2%, alpha 1e-6) that is 9 of 50; a switch to another language
fills that in about a dozen tweets.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.drift.detector import DetectorSpec, DriftReading

NAME: Final = "out_of_scope_share"
_STATE_FILE: Final = "scope.json"


def binomial_threshold(window: int, baseline_share: float, alpha: float) -> int:
    """The least k with P(Binomial(window, baseline_share) >= k) <= alpha."""
    tail = 1.0
    for k in range(window + 1):
        if tail <= alpha:
            return k
        tail -= math.comb(window, k) * baseline_share**k * (1 - baseline_share) ** (window - k)
    return window + 1  # unreachable: the detector never fires


@dataclass(frozen=True)
class ScopeSettings:
    window_size: int = 50
    baseline_share: float = 0.02
    alpha: float = 1e-6


class ScopeShareDetector:
    """An :class:`~tweet_triage.monitoring.drift.detector.OnlineDetector` over 0/1 out-of-scope flags."""

    def __init__(self, settings: ScopeSettings) -> None:
        if not 0 < settings.baseline_share < 1:
            raise MonitorError("the baseline out-of-scope share must lie strictly between 0 and 1")
        self._settings = settings
        self._limit = binomial_threshold(settings.window_size, settings.baseline_share, settings.alpha)
        self._window: deque[int] = deque(maxlen=settings.window_size)
        self._t = 0

    @property
    def name(self) -> str:
        return NAME

    @property
    def spec(self) -> DetectorSpec:
        s = self._settings
        return DetectorSpec(f"binomial:{s.baseline_share:g}:{s.alpha:g}", 0, s.window_size, 0, 0)

    @property
    def t(self) -> int:
        return self._t

    def update(self, x: npt.NDArray[np.float32]) -> DriftReading:
        self._t += 1
        self._window.append(int(np.asarray(x).reshape(-1)[0] > 0.5))
        size = self._settings.window_size
        share = sum(self._window) / size
        full = len(self._window) == size
        return DriftReading(NAME, self._t, share, self._limit / size, full and sum(self._window) >= self._limit)

    def save_state(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (_STATE_FILE + ".part")
        partial.write_text(json.dumps({"t": self._t, "window": list(self._window)}))
        partial.replace(folder / _STATE_FILE)

    def load_state(self, folder: Path) -> None:
        try:
            body = json.loads((folder / _STATE_FILE).read_text())
            self._t = int(body["t"])
            self._window = deque((int(v) for v in body["window"]), maxlen=self._settings.window_size)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MonitorError(f"{folder}: unreadable out-of-scope detector state ({exc})") from exc
