"""Drift episodes (confirmation, one signal per episode, closing after a quiet window) and saved state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.drift.detector import DetectorSpec, DriftReading, output_features
from tweet_triage.monitoring.drift.monitor import DriftMonitor


@dataclass
class ScriptedDetector:
    """Reports 'drifted' when the observation's first value is above 0.5."""

    name: str
    spec: DetectorSpec = field(default_factory=lambda: DetectorSpec("scripted", 100, 3, 1000, 0))
    t: int = 0
    seen: list[float] = field(default_factory=list)

    def update(self, x: npt.NDArray[np.float32]) -> DriftReading:
        self.t += 1
        self.seen.append(float(x[0]))
        return DriftReading(self.name, self.t, float(x[0]), 0.5, bool(x[0] > 0.5))

    def save_state(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "t").write_text(str(self.t))

    def load_state(self, folder: Path) -> None:
        self.t = int((folder / "t").read_text())


def make(version: str = "3", confirm: int = 2) -> DriftMonitor:
    return DriftMonitor(
        version, ["a", "b"], ScriptedDetector("embedding"), ScriptedDetector("output"), confirm_updates=confirm
    )


def feed(monitor: DriftMonitor, values: list[float]) -> list[int]:
    """Observe embeddings with these first values (outputs stay calm); return the tweet numbers that signalled."""
    fired = []
    for value in values:
        if monitor.observe([value, 0.0], {"a": 0.1, "b": 0.9}):
            fired.append(monitor.observed)
    return fired


def test_a_single_spike_does_not_signal_a_lasting_shift_signals_once() -> None:
    monitor = make(confirm=2)
    assert feed(monitor, [0.1, 0.9, 0.1, 0.1]) == []
    assert feed(monitor, [0.9] * 20) == [6]


def test_the_episode_closes_after_a_quiet_window_and_can_signal_again() -> None:
    monitor = make(confirm=1)
    assert feed(monitor, [0.9, 0.9, 0.1, 0.1, 0.9]) == [1]  # two quiet tweets: less than the window (3), still open
    assert feed(monitor, [0.1, 0.1, 0.1, 0.9]) == [9]  # a whole quiet window closed it


def test_the_output_detector_sees_probabilities_without_the_implied_last_class() -> None:
    monitor = make()
    monitor.observe([0.0, 0.0], {"a": 0.8, "b": 0.2})
    output = monitor.detectors[1]
    assert isinstance(output, ScriptedDetector)
    assert output.seen == pytest.approx([0.8])
    assert output_features(np.array([[0.2, 0.3, 0.5]], dtype=np.float32))[0].tolist() == pytest.approx([0.2, 0.3])


def test_state_round_trips_and_is_refused_for_another_version(tmp_path: Path) -> None:
    monitor = make()
    feed(monitor, [0.9] * 5)
    monitor.save(tmp_path)
    again = make()
    assert again.restore(tmp_path)
    assert again.observed == 5
    assert again.detectors[0].t == 5
    assert feed(again, [0.9, 0.9]) == []  # the restored episode is still open (a fresh one would signal here)
    assert not make(version="4").restore(tmp_path)
    assert not make(confirm=3).restore(tmp_path)


def test_unreadable_state_is_an_error_not_a_silent_reset(tmp_path: Path) -> None:
    (tmp_path / "monitor.json").write_text("{not json")
    with pytest.raises(MonitorError, match="unreadable"):
        make().restore(tmp_path)


def test_a_scored_tweet_that_would_break_the_detectors_is_named_not_observed() -> None:
    monitor = DriftMonitor(
        "3", ["a", "b"], ScriptedDetector("embedding"), ScriptedDetector("output"), confirm_updates=2, embedding_dim=4
    )
    assert monitor.check([0.1] * 4, {"a": 0.5, "b": 0.5}) is None
    assert "3 values" in (monitor.check([0.1] * 3, {"a": 0.5, "b": 0.5}) or "")
    assert "labels" in (monitor.check([0.1] * 4, {"a": 1.0}) or "")
    assert monitor.observed == 0


def test_a_tweet_out_of_the_sample_is_counted_but_not_fed_to_the_detectors() -> None:
    m = make()
    embedding = m._embedding
    assert isinstance(embedding, ScriptedDetector)
    assert m.observe([0.9, 0.1], {"a": 0.9, "b": 0.1}, sampled=False) == []
    m.observe([0.2, 0.1], {"a": 0.9, "b": 0.1})
    assert m.observed == 2 and embedding.seen == [pytest.approx(0.2)]
