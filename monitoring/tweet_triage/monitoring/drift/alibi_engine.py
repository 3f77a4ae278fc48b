"""alibi-detect 0.13 engines behind :class:`~tweet_triage.monitoring.drift.detector.OnlineDetector`.

* **Embeddings** — ``MMDDriftOnline`` (PyTorch backend) on the 384-dim pooled embedding the scorer already emits.
  MMD detects an abrupt shift in fewer updates than LSDD (5–9 vs 12–15 measured in ML_STACK.md) at a per-update
  cost (about 0.3 ms here) that fits the 1 ms budget. LSDD was left out: its calibration also builds the kernel
  inverse it scores with, so cached thresholds alone cannot rebuild it (docs/decisions.md). The engine is the
  :class:`~tweet_triage.settings.DriftEngine` of ``TRIAGE_MONITOR__ENGINE``; each one maps to its builder.
* **Outputs** — ``CVMDriftOnline`` on the model's class probabilities (all but the last class, which is implied):
  a change in the emergency rate or in how confident the model is. Its thresholds do not depend on the data
  (a rank test), only on the reference size, so 300 reference points keep calibration short.

Two things alibi-detect does not do that a long-running monitor needs:

* **Cached thresholds.** Configuring thresholds simulates ``n_bootstraps`` streams (about 1.2 ms each for MMD with a
  1,000-tweet reference here) and must be well above the ERT, so it takes a minute per model version. The
  thresholds depend only on the reference, the settings and the seed; they are computed once and kept in
  ``<cache>/<key>.npy`` (plain arrays, no pickle). Only ``_configure_thresholds`` is overridden to read them.
* **Bounded memory.** alibi-detect appends every test statistic (and, for CVM, every observation) to arrays that grow
  forever and are copied on each update; the wrapper trims them to the last window after each update.

State is saved as plain arrays (``numpy.savez``, ``allow_pickle=False``): alibi's own ``save_state`` for the PyTorch
backend uses ``torch.load(weights_only=False)``, i.e. unpickling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import MonitorError
from tweet_triage.monitoring.drift.detector import DetectorSpec, DriftReading, output_features
from tweet_triage.settings import DriftEngine

log = logging.getLogger(__name__)

OUTPUT_TEST: Final = "cvm"  # the output detector's test (Cramér-von Mises on the positive probability)
OUTPUT_REFERENCE_SIZE: Final = 300  # a 1-D rank test needs far fewer reference points than 384-dim MMD
_STATE_FILE: Final = "state.npz"
_TORCH_PREFIX: Final = "torch:"
_ALIBI_VERSION: Final = "0.13.0"


class AlibiOnlineDetector:
    """One alibi-detect online detector with cached thresholds, bounded history and pickle-free state."""

    def __init__(self, name: str, spec: DetectorSpec, backend: Any) -> None:
        self._name = name
        self._spec = spec
        self._backend = backend
        self._keep = max(spec.window_size, 1)

    @property
    def name(self) -> str:
        return self._name

    @property
    def spec(self) -> DetectorSpec:
        return self._spec

    @property
    def t(self) -> int:
        return int(self._backend.t)

    def update(self, x: npt.NDArray[np.float32]) -> DriftReading:
        result = self._backend.predict(np.asarray(x, dtype=np.float32), return_test_stat=True)["data"]
        self._trim_history()
        statistic, threshold = _scalar(result["test_stat"]), _scalar(result["threshold"])
        return DriftReading(self._name, int(result["time"]), statistic, threshold, bool(result["is_drift"]))

    def save_state(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for key in self._backend.online_state_keys:
            value = getattr(self._backend, key, None)
            if value is None:
                continue
            if _is_tensor(value):
                arrays[_TORCH_PREFIX + key] = value.detach().cpu().numpy()
            else:
                arrays[key] = np.asarray(value)
        partial = folder / (_STATE_FILE + ".part.npz")
        np.savez(partial, **arrays)
        partial.replace(folder / _STATE_FILE)

    def load_state(self, folder: Path) -> None:
        path = folder / _STATE_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                loaded = {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise MonitorError(f"{path}: unreadable detector state ({exc})") from exc
        expected = set(self._backend.online_state_keys)
        for stored, value in loaded.items():
            key = stored.removeprefix(_TORCH_PREFIX)
            if key not in expected:
                raise MonitorError(f"{path}: state key {key!r} does not belong to detector {self._name!r}")
            if stored.startswith(_TORCH_PREFIX):
                import torch

                current = getattr(self._backend, key)
                if tuple(current.shape) != value.shape:
                    raise MonitorError(
                        f"{path}: {key} has shape {value.shape}, the detector needs {tuple(current.shape)} "
                        "(saved with other settings?)"
                    )
                setattr(self._backend, key, torch.from_numpy(value).to(current.dtype))
            elif key == "t":
                self._backend.t = int(value)
            else:
                setattr(self._backend, key, value)

    def _trim_history(self) -> None:
        backend = self._backend
        backend.test_stats = backend.test_stats[-self._keep :]
        backend.drift_preds = backend.drift_preds[-self._keep :]
        xs = getattr(backend, "xs", None)
        if isinstance(xs, np.ndarray) and xs.ndim > 0 and len(xs) > self._keep:
            backend.xs = xs[-self._keep :]


def embedding_detector(
    reference: npt.NDArray[np.float32], spec: DetectorSpec, cache_dir: Path, *, progress: bool = False
) -> AlibiOnlineDetector:
    """The embedding detector of ``spec.engine`` (a :class:`~tweet_triage.settings.DriftEngine`), thresholds from
    the cache when this reference and spec were seen before."""
    try:
        engine = DriftEngine(spec.engine)
    except ValueError:
        choices = ", ".join(DriftEngine)
        raise MonitorError(f"unknown embedding drift engine {spec.engine!r} (choose from {choices})") from None
    _check_reference(reference, spec, "embedding")
    backend = _EMBEDDING_BACKENDS[engine](reference, spec, cache_dir, progress)
    return AlibiOnlineDetector("embedding", spec, backend)


def _mmd_backend(reference: npt.NDArray[np.float32], spec: DetectorSpec, cache_dir: Path, progress: bool) -> Any:
    from alibi_detect.cd.pytorch.mmd_online import MMDDriftOnlineTorch as Backend

    kwargs = {"ert": spec.ert, "window_size": spec.window_size, "n_bootstraps": spec.n_bootstraps, "device": "cpu"}
    return _build(Backend, reference, spec, kwargs, cache_dir, progress=progress)


_EMBEDDING_BACKENDS: Final[dict[DriftEngine, Callable[[npt.NDArray[np.float32], DetectorSpec, Path, bool], Any]]] = {
    DriftEngine.MMD: _mmd_backend,
}


def output_detector(
    reference_probabilities: npt.NDArray[np.float32], spec: DetectorSpec, cache_dir: Path, *, progress: bool = False
) -> AlibiOnlineDetector:
    """CVM on the class probabilities (the last class is implied by the others and left out)."""
    features = output_features(reference_probabilities)
    if len(features) > OUTPUT_REFERENCE_SIZE:  # CVM calibration costs (n_ref + 2 * window)^2 per bootstrap stream
        keep = np.random.default_rng(spec.seed).permutation(len(features))[:OUTPUT_REFERENCE_SIZE]
        features = features[np.sort(keep)]
    _check_reference(features, spec, "output")
    from alibi_detect.cd.cvm_online import CVMDriftOnline as Backend

    kwargs = {"ert": spec.ert, "window_sizes": [spec.window_size], "n_bootstraps": spec.n_bootstraps}
    # A rank test's thresholds do not depend on the values, only on the reference size: one cache for all models.
    backend = _build(Backend, features, spec, kwargs, cache_dir, progress=progress, key=np.zeros_like(features))
    return AlibiOnlineDetector("output", spec, backend)


def thresholds_key(reference: npt.NDArray[np.float32], spec: DetectorSpec) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(reference, dtype=np.float32).tobytes())
    digest.update(str(reference.shape).encode())
    digest.update(json.dumps({**asdict(spec), "alibi": _ALIBI_VERSION}, sort_keys=True).encode())
    return f"{spec.engine}-{digest.hexdigest()[:24]}"


def _build(
    backend_class: Any,
    reference: npt.NDArray[np.float32],
    spec: DetectorSpec,
    kwargs: dict[str, Any],
    cache_dir: Path,
    *,
    progress: bool,
    key: npt.NDArray[np.float32] | None = None,
) -> Any:
    cache_file = cache_dir / f"{thresholds_key(reference if key is None else key, spec)}.npy"
    cached = _read_thresholds(cache_file)
    cls = _with_thresholds(backend_class, spec.seed)
    if cached is None:
        log.warning(
            "calibrating the %s detector (%d bootstrap streams, once per model version and settings)...",
            spec.engine,
            spec.n_bootstraps,
        )
    _seed_everything(spec.seed)
    backend = cls(reference, thresholds=cached, verbose=progress, **kwargs)
    if cached is None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".{os.getpid()}.part.npy")  # monitors may share the cache: one file each
        np.save(partial, _thresholds_array(backend.thresholds), allow_pickle=False)
        partial.replace(cache_file)
    return backend


def _with_thresholds(backend_class: Any, seed: int) -> Any:
    """A subclass of the alibi-detect backend whose ``_configure_thresholds`` takes precomputed thresholds.

    After the thresholds (computed or cached) the random generators are re-seeded, so the reference split that
    alibi-detect draws next is the same whether the thresholds came from the cache or not — which is what makes a
    saved state valid for a detector rebuilt after a restart.
    """

    class WithThresholds(backend_class):  # type: ignore[misc]
        def __init__(self, *args: Any, thresholds: npt.NDArray[Any] | None = None, **kwargs: Any) -> None:
            self._given_thresholds = thresholds
            super().__init__(*args, **kwargs)

        def _configure_thresholds(self) -> None:
            if self._given_thresholds is None and hasattr(self, "k_xx"):
                self.thresholds = mmd_thresholds(self.k_xx, self.window_size, self.fpr, self.n_bootstraps)
            elif self._given_thresholds is None:
                super()._configure_thresholds()
            elif isinstance(getattr(self, "backend", None), str) and self.backend == "pytorch":
                import torch

                self.thresholds = [torch.tensor(value) for value in self._given_thresholds]
            else:
                self.thresholds = cast(Any, self._given_thresholds)
            _seed_everything(seed + 1)

    WithThresholds.__name__ = f"{backend_class.__name__}WithThresholds"
    return WithThresholds


def mmd_thresholds(k_xx: Any, window: int, fpr: float, n_bootstraps: int, *, batch: int = 5000) -> list[Any]:
    """alibi-detect's MMD-online calibration, vectorised: the same bootstrap and the same conditional quantiles.

    Each bootstrap stream splits the reference into a sub-reference and an extended test window of ``2W - 1``
    points; the W overlapping windows give W squared-MMD estimates. Step by step, the threshold is the
    ``1 - fpr`` quantile over the streams that have not crossed an earlier threshold. alibi-detect does this with a
    Python loop that keeps per-stream tensors alive (about 20 GB for 50,000 streams here); only the
    ``2W - 1``-point blocks matter, because every sum over the sub-reference follows from whole-matrix sums.
    """
    import torch
    from alibi_detect.utils.pytorch import quantile

    n = k_xx.shape[0]
    etw = 2 * window - 1
    rw = n - etw
    k = k_xx.clone()
    k.fill_diagonal_(0)
    full_sum = k.sum()
    column_sums = k.sum(0)
    mmds = []
    for start in range(0, n_bootstraps, batch):
        size = min(batch, n_bootstraps - start)
        y = torch.stack([torch.randperm(n)[-etw:] for _ in range(size)])  # (size, etw) test-window indices
        k_yy = k[y[:, :, None], y[:, None, :]]  # (size, etw, etw), zero diagonal
        k_xy_cols = column_sums[y] - k_yy.sum(1)  # column sums over the sub-reference rows only
        k_xx_sum = (full_sum - k_yy.sum((1, 2)) - 2 * k_xy_cols.sum(1)) / (rw * (rw - 1))
        stats = []
        for w in range(window):
            yy = k_yy[:, w : w + window, w : w + window].sum((1, 2)) / (window * (window - 1))
            xy = k_xy_cols[:, w : w + window].sum(1) / (rw * window)
            stats.append(k_xx_sum + yy - 2 * xy)
        mmds.append(torch.stack(stats, 1))
    remaining = torch.cat(mmds)  # (n_bootstraps, window)
    thresholds = []
    for w in range(window):
        threshold = quantile(remaining[:, w], 1 - fpr)
        thresholds.append(threshold)
        remaining = remaining[remaining[:, w] < threshold]
    return thresholds


def _seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)  # alibi-detect's bootstrap and reference split draw from torch's generator
    np.random.seed(seed)  # CVM's simulation draws from numpy's global generator


def _thresholds_array(thresholds: Any) -> npt.NDArray[Any]:
    if isinstance(thresholds, list):
        return np.asarray([float(value) for value in thresholds], dtype=np.float64)
    return np.asarray(thresholds)


def _read_thresholds(path: Path) -> npt.NDArray[Any] | None:
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable threshold cache %s (%s); recalibrating", path, exc)
        return None


def _check_reference(reference: npt.NDArray[np.float32], spec: DetectorSpec, what: str) -> None:
    if reference.ndim != 2 or len(reference) < 2 * spec.window_size + 10:
        raise MonitorError(
            f"the {what} detector needs a 2-D reference with more than twice the window ({spec.window_size}) rows; "
            f"got shape {reference.shape}"
        )
    if not np.isfinite(reference).all():
        raise MonitorError(f"the {what} reference holds NaN or infinite values")


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _scalar(value: Any) -> float:
    return float(np.max(np.asarray(value, dtype=np.float64)))
