"""`GET /v1/model`: the serving version's metrics, lineage tags and approval records, read from the registry once per
version (versions are immutable; approvals about a version are re-read when it changes)."""

from __future__ import annotations

import threading
import time

from tweet_triage.api.schemas import ApprovalOut, ModelInfoOut
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.registry import Registry

_METRIC_TAGS = ("test.f1", "test.ece")
_LINEAGE_TAGS = ("dataset.version", "git.commit", "quantization", "gate.passed", "run_id")


class RegistryModelInfo:
    def __init__(self, registry: Registry, *, alias: str) -> None:
        self._registry = registry
        self._approvals = ApprovalLog(registry.client, registry.name)
        self._alias = alias
        self._cache: dict[str, ModelInfoOut] = {}
        self._lock = threading.Lock()

    def __call__(self, version: str, labels: list[str]) -> ModelInfoOut:
        with self._lock:
            cached = self._cache.get(version)
        if cached is not None:
            return cached
        mv = self._registry.get(version)
        metrics = {}
        for key in _METRIC_TAGS:
            try:
                metrics[key.removeprefix("test.")] = float(mv.tags[key])
            except (KeyError, ValueError):
                continue
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
