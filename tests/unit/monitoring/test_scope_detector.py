"""The out-of-scope share detector: quiet on normal traffic, an incident soon after the stream changes language."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unit.monitoring.test_drift_monitor import ScriptedDetector
from tweet_triage.monitoring.drift.monitor import DriftMonitor
from tweet_triage.monitoring.drift.scope import NAME, ScopeSettings, ScopeShareDetector, binomial_threshold


def monitor(confirm: int = 5) -> DriftMonitor:
    return DriftMonitor(
        "3",
        ["a", "b"],
        ScriptedDetector("embedding"),
        ScriptedDetector("output"),
        confirm_updates=confirm,
        scope=ScopeShareDetector(ScopeSettings()),
    )


def signals(m: DriftMonitor, flags: list[bool]) -> list[int]:
    fired = []
    for flag in flags:
        if any(s.reading.detector == NAME for s in m.observe([0.0, 0.0], {"a": 0.1, "b": 0.9}, flag)):
            fired.append(m.observed)
    return fired


def test_the_threshold_is_the_binomial_tail_of_the_baseline_share() -> None:
    k = binomial_threshold(50, 0.02, 1e-6)
    assert k == 9
    assert binomial_threshold(50, 0.01, 1e-6) < k < binomial_threshold(50, 0.05, 1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normal_traffic_raises_nothing_and_a_switch_of_language_raises_one_incident_soon(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = monitor()
    # 5,000 English tweets, 1% of them falsely flagged (0.75% measured on the training data)
    assert signals(m, list(rng.random(5000) < 0.01)) == []
    # then the crisis moves to a region tweeting in Spanish: 90% of tweets flagged
    fired = signals(m, list(rng.random(300) < 0.9))
    assert len(fired) == 1 and fired[0] - 5000 <= 100


def test_its_window_survives_a_restart(tmp_path: Path) -> None:
    first = monitor(confirm=1)
    signals(first, [False] * 45 + [True] * 5)
    first.save(tmp_path)
    second = monitor(confirm=1)
    assert second.restore(tmp_path)
    assert signals(second, [True] * 4) == [54]  # 9 of the last 50 only with the 5 restored flags
