"""The alibi-detect engines on synthetic data: detection, cached thresholds, bounded history, exact state restore."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.drift import alibi_engine
from tweet_triage.monitoring.drift.alibi_engine import AlibiOnlineDetector, embedding_detector, output_detector
from tweet_triage.monitoring.drift.detector import DetectorSpec
from tweet_triage.settings import DriftEngine

pytest.importorskip("alibi_detect")

RNG = np.random.default_rng(7)
REFERENCE = RNG.normal(size=(200, 8)).astype(np.float32)
PROBABILITIES = RNG.dirichlet([2.0, 2.0], size=200).astype(np.float32)
SPEC = DetectorSpec(DriftEngine.MMD, ert=200, window_size=10, n_bootstraps=1000, seed=0)


def stream(n: int, shift: float, seed: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).normal(loc=shift, size=(n, 8)).astype(np.float32)


def test_mmd_flags_a_mean_shift_soon_after_it_starts(tmp_path: Path) -> None:
    detector = embedding_detector(REFERENCE, SPEC, tmp_path)
    for x in stream(100, 0.0, 1):
        detector.update(x)
    delays = [i for i, x in enumerate(stream(100, 1.5, 2)) if detector.update(x).drifted]
    assert delays, "a 1.5-sigma shift in every feature must be detected"
    assert delays[0] < 30


def test_thresholds_are_computed_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = embedding_detector(REFERENCE, SPEC, tmp_path)
    assert len(list(tmp_path.glob("mmd-*.npy"))) == 1

    def no_bootstrap(*args: object, **kwargs: object) -> None:
        raise AssertionError("thresholds were recomputed although they are cached")

    monkeypatch.setattr(alibi_engine, "mmd_thresholds", no_bootstrap)
    second = embedding_detector(REFERENCE, SPEC, tmp_path)
    x = stream(1, 0.0, 3)[0]
    assert first.update(x).threshold == pytest.approx(second.update(x).threshold)


def test_the_vectorised_calibration_agrees_with_alibi_detects_own() -> None:
    import torch
    from alibi_detect.cd.pytorch.mmd_online import MMDDriftOnlineTorch

    torch.manual_seed(0)
    theirs = MMDDriftOnlineTorch(REFERENCE, ert=100, window_size=10, n_bootstraps=4000, verbose=False)
    ours = alibi_engine.mmd_thresholds(theirs.k_xx, 10, theirs.fpr, 40_000)
    expected = np.array([float(t) for t in theirs.thresholds])
    assert np.abs(np.array([float(t) for t in ours]) - expected).max() < 0.1 * expected.max()


def test_other_settings_or_reference_get_their_own_thresholds(tmp_path: Path) -> None:
    embedding_detector(REFERENCE, SPEC, tmp_path)
    embedding_detector(REFERENCE, DetectorSpec(DriftEngine.MMD, 300, 10, 1000, 0), tmp_path)
    embedding_detector(REFERENCE[:150], SPEC, tmp_path)
    assert len(list(tmp_path.glob("mmd-*.npy"))) == 3


def test_history_stays_bounded(tmp_path: Path) -> None:
    detector = output_detector(PROBABILITIES, DetectorSpec("cvm", 200, 10, 1000, 0), tmp_path)
    for p in RNG.dirichlet([2.0, 2.0], size=300):
        detector.update(p[:1].astype(np.float32))
    backend = detector._backend
    assert len(backend.test_stats) <= 10
    assert len(backend.xs) <= 10
    assert detector.t == 300


def test_restored_state_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    spec = SPEC
    data = stream(60, 0.3, 4)
    original = embedding_detector(REFERENCE, spec, tmp_path / "cache")
    for x in data[:30]:
        original.update(x)
    original.save_state(tmp_path / "state")
    restored = embedding_detector(REFERENCE, spec, tmp_path / "cache")
    restored.load_state(tmp_path / "state")
    assert restored.t == 30
    for x in data[30:]:
        a, b = original.update(x), restored.update(x)
        assert (a.t, a.drifted) == (b.t, b.drifted)
        assert a.statistic == pytest.approx(b.statistic, rel=1e-5, abs=1e-7)


def test_state_from_other_settings_is_refused(tmp_path: Path) -> None:
    small = embedding_detector(REFERENCE, SPEC, tmp_path / "cache")
    small.update(stream(1, 0.0, 5)[0])
    small.save_state(tmp_path / "state")
    wider: AlibiOnlineDetector = embedding_detector(
        REFERENCE, DetectorSpec(DriftEngine.MMD, 200, 12, 1000, 0), tmp_path / "cache"
    )
    with pytest.raises(MonitorError, match="shape"):
        wider.load_state(tmp_path / "state")


def test_unknown_engines_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="unknown embedding drift engine"):
        embedding_detector(REFERENCE, DetectorSpec("lsdd", 200, 10, 1000, 0), tmp_path)


def test_a_reference_too_small_for_the_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="twice the window"):
        embedding_detector(REFERENCE[:20], SPEC, tmp_path)
