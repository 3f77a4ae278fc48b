"""The MLflow edge of training: one run, recorded through a small interface.

:class:`RunRecorder` is what the stages need from a tracking server; :class:`MlflowRunRecorder` is the one
implementation (MLflow locally and in the Azure ML workspace). Nothing else in training calls the MLflow client.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, Self


class RunRecorder(Protocol):
    @property
    def run_id(self) -> str: ...

    def log_params(self, params: Mapping[str, str]) -> None: ...

    def log_metric(self, key: str, value: float, step: int | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def log_artifacts(self, source: Path, artifact_dir: str | None) -> None: ...

    def log_text(self, text: str, artifact: str) -> None: ...

    def finish(self, *, succeeded: bool) -> None: ...


class MlflowRunRecorder:
    """One MLflow run, created in ``experiment`` (made if missing)."""

    def __init__(self, client: Any, run_id: str) -> None:
        self._client = client
        self._run_id = run_id

    @classmethod
    def start(cls, client: Any, experiment: str, name: str, tags: Mapping[str, str]) -> Self:
        found = client.get_experiment_by_name(experiment)
        experiment_id = str(found.experiment_id) if found is not None else str(client.create_experiment(experiment))
        run = client.create_run(experiment_id, tags={"mlflow.runName": name, **tags})
        return cls(client, str(run.info.run_id))

    @property
    def run_id(self) -> str:
        return self._run_id

    def log_params(self, params: Mapping[str, str]) -> None:
        for key, value in params.items():
            self._client.log_param(self._run_id, key, value)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self._client.log_metric(self._run_id, key, value, step=step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_tag(self._run_id, key, value)

    def log_artifacts(self, source: Path, artifact_dir: str | None) -> None:
        if source.is_dir():
            self._client.log_artifacts(self._run_id, str(source), artifact_dir)
        else:
            self._client.log_artifact(self._run_id, str(source), artifact_dir)

    def log_text(self, text: str, artifact: str) -> None:
        self._client.log_text(self._run_id, text, artifact)

    def finish(self, *, succeeded: bool) -> None:
        self._client.set_terminated(self._run_id, status="FINISHED" if succeeded else "FAILED")
