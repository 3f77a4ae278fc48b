"""What a training stage wants on the MLflow run, kept in the stage's own output folder until the run is recorded.

Every stage (fine-tune, export, evaluate) writes its parameters, metrics, tags and artifacts into ``record.json``
beside its outputs; the register stage starts the run and uploads every stage's record. `triage train` and the
Azure ML pipeline both go through this, so both runs carry the same record by construction, whether the stages ran
in one process or on separate nodes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from tweet_triage.training.run_recorder import RunRecorder

RECORD_FILE = "record.json"
ARTIFACTS_DIR = "record"  # files the stage wrote only for the run (reports, figures)


@dataclass
class StageRecord:
    folder: Path  # the stage's output folder
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[tuple[str, str | None]] = field(default_factory=list)  # (path inside folder, artifact folder)

    # ---- what a stage records ----------------------------------------------------------------------------------

    def param(self, key: str, value: object) -> None:
        self.params[key] = "" if value is None else str(value)

    def metric(self, key: str, value: float, step: int | None = None) -> None:
        self.metrics.append((key, float(value), step))

    def tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def text(self, artifact: str, content: str) -> None:
        """A text artifact at ``artifact`` (a path inside the run, e.g. ``evaluation/errors.md``)."""
        path = self.folder / ARTIFACTS_DIR / artifact
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        self.artifacts.append((str(path.relative_to(self.folder)), str(Path(artifact).parent) or None))

    def json(self, artifact: str, data: object) -> None:
        self.text(artifact, json.dumps(data, indent=2, default=str))

    def file(self, source: Path, artifact_dir: str | None) -> None:
        """A file or folder the stage wrote (inside its folder) logged as it is under ``artifact_dir``."""
        target = source
        if not source.is_relative_to(self.folder):
            target = self.folder / ARTIFACTS_DIR / (artifact_dir or "") / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
        self.artifacts.append((str(target.relative_to(self.folder)), artifact_dir))

    # ---- persistence -------------------------------------------------------------------------------------------

    def save(self) -> None:
        body = {"params": self.params, "metrics": self.metrics, "tags": self.tags, "artifacts": self.artifacts}
        (self.folder / RECORD_FILE).write_text(json.dumps(body, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Self:
        body: dict[str, Any] = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        return cls(
            folder,
            dict(body["params"]),
            [(str(k), float(v), None if s is None else int(s)) for k, v, s in body["metrics"]],
            dict(body["tags"]),
            [(str(p), None if a in (None, "", ".") else str(a)) for p, a in body["artifacts"]],
        )

    def upload(self, run: RunRecorder) -> None:
        run.log_params(self.params)
        for key, value, step in self.metrics:
            run.log_metric(key, value, step)
        run.set_tags(self.tags)
        for relative, artifact_dir in self.artifacts:
            run.log_artifacts(self.folder / relative, artifact_dir)
