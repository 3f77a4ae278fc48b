"""The drift monitor: the production model's detectors, one observation per scored tweet, incidents out.

A detector "fires" when its statistic exceeds the threshold for ``confirm_updates`` consecutive tweets; that opens
an *episode* and yields one :class:`DriftSignal`. The episode stays open (no further signals) until the detector has
been quiet for a whole window — so a lasting shift is one signal, not one per tweet. Signals from several detectors
are grouped into one incident downstream (the alert center deduplicates on kind and model version).

State (each detector's window plus the episode counters) is saved with :meth:`DriftMonitor.save` and restored with
:meth:`DriftMonitor.restore`, which refuses state written for another model version or other settings.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.drift.detector import DriftReading, OnlineDetector, output_features

log = logging.getLogger(__name__)

_MONITOR_FILE: Final = "monitor.json"


@dataclass(frozen=True)
class DriftSignal:
    """A detector's episode just opened: the evidence for a drift incident."""

    model_version: str
    reading: DriftReading
    window_size: int
    observed: int  # tweets this monitor has seen for this model version


@dataclass
class _Episode:
    consecutive: int = 0
    quiet: int = 0
    open: bool = False
    signals: int = 0


@dataclass
class _Counters:
    observed: int = 0
    episodes: dict[str, _Episode] = field(default_factory=dict)


class DriftMonitor:
    """Feeds every scored tweet of one model version to its detectors and turns readings into signals."""

    def __init__(
        self,
        model_version: str,
        labels: Sequence[str],
        embedding: OnlineDetector,
        output: OnlineDetector,
        *,
        confirm_updates: int,
        embedding_dim: int | None = None,
        scope: OnlineDetector | None = None,
    ) -> None:
        """``scope``, when given, watches each tweet's out-of-scope flag (see :mod:`.scope`)."""
        if confirm_updates < 1:
            raise MonitorError("confirm_updates must be at least 1")
        self.model_version = model_version
        self.labels = list(labels)
        self.embedding_dim = embedding_dim
        self._embedding = embedding
        self._output = output
        self._scope = scope
        self._confirm = confirm_updates
        self._counters = _Counters(episodes={d.name: _Episode() for d in self.detectors})
        self.last_readings: dict[str, DriftReading] = {}

    @property
    def detectors(self) -> tuple[OnlineDetector, ...]:
        return (self._embedding, self._output, *((self._scope,) if self._scope is not None else ()))

    @property
    def observed(self) -> int:
        return self._counters.observed

    def check(
        self, embedding: Sequence[float] | npt.NDArray[np.float32], probabilities: dict[str, float]
    ) -> str | None:
        """Why a scored tweet cannot be observed by these detectors (it would break them), or None."""
        if self.embedding_dim is not None and len(embedding) != self.embedding_dim:
            return f"the embedding has {len(embedding)} values; model v{self.model_version}'s has {self.embedding_dim}"
        if set(probabilities) != set(self.labels):
            return f"the probabilities are for {sorted(probabilities)}, not the model's labels {self.labels}"
        return None

    def observe(
        self,
        embedding: Sequence[float] | npt.NDArray[np.float32],
        probabilities: dict[str, float],
        out_of_scope: bool = False,
        *,
        sampled: bool = True,
    ) -> list[DriftSignal]:
        """One scored tweet of this model version; returns the signals of episodes that opened with it. A tweet
        that is not ``sampled`` (:func:`in_sample`) is counted as observed but not fed to the detectors."""
        self._counters.observed += 1
        if not sampled:
            return []
        probs = np.asarray([probabilities.get(label, 0.0) for label in self.labels], dtype=np.float32)
        vector = np.asarray(embedding, dtype=np.float32)
        inputs = [(self._embedding, vector), (self._output, output_features(probs)[0])]
        if self._scope is not None:
            inputs.append((self._scope, np.array([float(out_of_scope)], np.float32)))
        signals = []
        for detector, x in inputs:
            reading = detector.update(x)
            self.last_readings[detector.name] = reading
            if self._advance(self._counters.episodes[detector.name], reading, detector.spec.window_size):
                signals.append(DriftSignal(self.model_version, reading, detector.spec.window_size, self.observed))
        return signals

    def _advance(self, episode: _Episode, reading: DriftReading, window: int) -> bool:
        if reading.drifted:
            episode.consecutive += 1
            episode.quiet = 0
            if not episode.open and episode.consecutive >= self._confirm:
                episode.open = True
                episode.signals += 1
                return True
            return False
        episode.consecutive = 0
        episode.quiet += 1
        if episode.open and episode.quiet >= window:
            episode.open = False
            log.info("drift episode closed after %d quiet tweets", episode.quiet)
        return False

    # ---- state ------------------------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write every detector's state and the counters (each file replaced atomically)."""
        folder.mkdir(parents=True, exist_ok=True)
        for detector in self.detectors:
            detector.save_state(folder / detector.name)
        body = {
            "model_version": self.model_version,
            "labels": self.labels,
            "specs": {d.name: asdict(d.spec) for d in self.detectors},
            "confirm_updates": self._confirm,
            "observed": self._counters.observed,
            "episodes": {name: asdict(e) for name, e in self._counters.episodes.items()},
        }
        partial = folder / (_MONITOR_FILE + ".part")
        partial.write_text(json.dumps(body, indent=2))
        partial.replace(folder / _MONITOR_FILE)

    def restore(self, folder: Path) -> bool:
        """Load state saved for this model version and these settings; False (and a log line) when there is none."""
        path = folder / _MONITOR_FILE
        if not path.exists():
            log.info("no saved drift-monitor state in %s: starting with empty windows", folder)
            return False
        try:
            body: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise MonitorError(f"{path}: unreadable monitor state ({exc})") from exc
        mismatch = self._mismatch(body)
        if mismatch:
            log.warning("saved drift-monitor state in %s is not reused: %s", folder, mismatch)
            return False
        for detector in self.detectors:
            detector.load_state(folder / detector.name)
        self._counters = _Counters(
            observed=int(body["observed"]),
            episodes={name: _Episode(**values) for name, values in body["episodes"].items()},
        )
        log.warning(
            "restored drift-monitor state for model version %s: %d tweets observed, detector time %s",
            self.model_version,
            self.observed,
            {d.name: d.t for d in self.detectors},
        )
        return True

    def _mismatch(self, body: dict[str, Any]) -> str | None:
        if body.get("model_version") != self.model_version:
            return f"it belongs to model version {body.get('model_version')}, production is {self.model_version}"
        specs = {d.name: asdict(d.spec) for d in self.detectors}
        if body.get("specs") != specs or body.get("confirm_updates") != self._confirm:
            return "the detector settings changed since it was saved"
        if body.get("labels") != self.labels:
            return "the label set changed"
        return None


def in_sample(tweet_id: str, every: int) -> bool:
    """Whether the detectors see this tweet when they see one in ``every``: by a stable hash of its id, so the same
    tweets are chosen in every process, after a restart and on a re-delivery."""
    return every <= 1 or zlib.crc32(tweet_id.encode("utf-8")) % every == 0
