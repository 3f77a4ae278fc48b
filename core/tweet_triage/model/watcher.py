"""Follow the `production` alias and hot-swap the predictor, for long-running scorers (stream worker, API).

Callers take :attr:`ModelWatcher.current` once per batch and use that predictor for the whole batch, so every
prediction in a batch records the one version that made it. :meth:`refresh` loads a new version completely before
swapping the reference; a version that fails to load is reported and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tweet_triage.errors import ModelError
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swap:
    previous: str | None
    current: str


class ModelWatcher:
    def __init__(
        self,
        registry: Registry,
        *,
        alias: str = PRODUCTION,
        threads: int = 2,
        on_swap: Callable[[Swap], None] | None = None,
    ) -> None:
        self._registry = registry
        self._alias = alias
        self._threads = threads
        self._on_swap = on_swap
        self._current: Predictor | None = None
        self._lock = threading.Lock()  # one load at a time; readers never wait

    @property
    def alias(self) -> str:
        return self._alias

    @property
    def current(self) -> Predictor:
        predictor = self._current
        if predictor is None:
            raise ModelError(
                f"no {self._alias!r} model is loaded; train one and promote it (`triage train`, `triage model promote`)"
            )
        return predictor

    @property
    def ready(self) -> bool:
        return self._current is not None

    def refresh(self) -> Swap | None:
        """Load the version the alias points at if it differs from the one serving. Returns the swap, if any."""
        with self._lock:
            target = self._registry.get(self._alias)
            serving = self._current.version if self._current is not None else None
            if target.version == serving:
                return None
            folder = self._registry.download(target)
            predictor = Predictor(folder, version=target.version, threads=self._threads)
            self._current = predictor
        swap = Swap(previous=serving, current=target.version)
        log.info("model %s: now serving v%s (was %s)", self._alias, swap.current, swap.previous or "none")
        if self._on_swap is not None:
            self._on_swap(swap)
        return swap

    def try_refresh(self) -> Swap | None:
        """:meth:`refresh`, but a registry or model problem is logged and the current model keeps serving."""
        try:
            return self.refresh()
        except ModelError as exc:
            log.warning("model refresh failed, keeping v%s: %s", self._current.version if self._current else "-", exc)
        except Exception:
            log.exception("model refresh failed unexpectedly; keeping the current model")
        return None
