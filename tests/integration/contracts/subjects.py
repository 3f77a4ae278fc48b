"""Fresh subjects for the contract suites on a real MLflow server: a model name of their own per test."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.contracts.approvals import LogSubject
from tests.contracts.registry import RegistrySubject
from tests.twins.packages import write_package
from tweet_triage.model.approvals import ApprovalLog, anchor_key
from tweet_triage.model.registry import Registry
from tweet_triage.settings import Settings, load_settings


def fresh_settings(base: Settings) -> Settings:
    """``base``'s stack and tracking server, with a model and experiment name nobody else uses."""
    name = f"contract-{uuid.uuid4().hex[:8]}"
    return load_settings(
        stack=base.stack.model_dump(), mlflow=base.mlflow.model_dump() | {"model_name": name, "experiment": name}
    )


def mlflow_registry(base: Settings, scratch: Path) -> RegistrySubject:
    registry = Registry(fresh_settings(base))
    run = registry.client.create_run(registry.client.create_experiment(registry.experiment))
    package = scratch / "package"
    return RegistrySubject(registry, run.info.run_id, package, write_package(package))


class MlflowTamper:
    """What anyone with a plain MLflow client can do to the approval log of ``model``."""

    def __init__(self, client: object, model: str) -> None:
        self._client, self._model = client, model

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._client.set_tag(run_id, key, value)  # type: ignore[attr-defined]

    def delete_run(self, run_id: str) -> None:
        self._client.delete_run(run_id)  # type: ignore[attr-defined]

    def delete_anchor(self, seq: int) -> None:
        self._client.delete_registered_model_tag(self._model, anchor_key(seq))  # type: ignore[attr-defined]


def mlflow_approval_log(base: Settings) -> LogSubject:
    registry = Registry(fresh_settings(base))
    registry.client.create_registered_model(registry.name)  # its tags hold the registry's copy of the chain
    log = ApprovalLog.beside(registry)
    log.LOCK_TIMEOUT_S = 1.0
    return LogSubject(log, MlflowTamper(registry.client, registry.name))
