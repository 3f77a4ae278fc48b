"""`GET /v1/model`: the serving version's metrics, lineage tags and approval records, read from the registry once per
version (versions are immutable; approvals about a version are re-read when it changes)."""

from __future__ import annotations

import contextlib
import threading
import time

from tweet_triage.api.schemas import ApprovalOut, ModelInfoOut
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.gate import PASSED_TAG
from tweet_triage.model.registry import Registry

_METRIC_TAGS = ("test.f1", "test.ece")
_LINEAGE_TAGS = (
    "dataset.version",
    "git.commit",
    "quantization",
    PASSED_TAG,
    "run_id",
    "operating_point.policy",
    "operating_point.threshold",
    "operating_point.precision",
    "operating_point.recall",
    "languages",
)


class RegistryModelInfo:
    def __init__(self, registry: Registry, *, alias: str) -> None:
        self._registry = registry
        self._approvals = ApprovalLog.beside(registry)
        self._alias = alias
        self._cache: dict[str, ModelInfoOut] = {}
        self._lock = threading.Lock()

    def __call__(self, version: str, labels: list[str]) -> ModelInfoOut:
        with self._lock:
            cached = self._cache.get(version)
        if cached is not None:
            return cached
        mv = self._registry.get(version)
        metrics = self._metrics(mv.tags, mv.run_id)
        info = ModelInfoOut(
            name=mv.name,
            version=mv.version,
            alias=self._alias,
            labels=labels,
            metrics=metrics,
            tags={k: mv.tags[k] for k in _LINEAGE_TAGS if k in mv.tags},
            approvals=[
                ApprovalOut(
                    action=r.action.value,
                    version=r.version,
                    replaced_version=r.replaced_version,
                    approver=r.approver,
                    reason=r.reason,
                    gate_passed=r.gate_passed,
                    override_reason=r.override_reason,
                    at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.at)),
                )
                for r in self._approvals.history(version)
            ],
        )
        with self._lock:
            self._cache = {version: info}  # only the serving version is worth keeping
        return info

    def _metrics(self, tags: dict[str, str], run_id: str | None) -> dict[str, float]:
        """Test F1 and ECE from the version's tags, else from its training run's metrics."""
        found: dict[str, float] = {}
        for key in _METRIC_TAGS:
            with contextlib.suppress(KeyError, ValueError):
                found[key.removeprefix("test.")] = float(tags[key])
        if len(found) < len(_METRIC_TAGS) and run_id is not None:
            run_metrics = self._registry.client.get_run(run_id).data.metrics
            for key in _METRIC_TAGS:
                if key in run_metrics:
                    found.setdefault(key.removeprefix("test."), float(run_metrics[key]))
        return found
