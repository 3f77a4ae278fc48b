"""A fresh registered model per test, with bare versions (no package: promotion and the approval log never read it)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.registry import Registry
from tweet_triage.settings import Settings, load_settings

TRIAGE = str(Path(sys.executable).with_name("triage"))


@dataclass
class BareModel:
    settings: Settings
    registry: Registry
    log: ApprovalLog
    versions: list[str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        stack = self.settings.stack
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")} | {
            "TRIAGE_STACK__STATE_DIR": str(stack.state_dir),
            "TRIAGE_STACK__MLFLOW_PORT": str(stack.mlflow_port),
            "TRIAGE_MLFLOW__MODEL_NAME": self.registry.name,
            "COLUMNS": "250",
        }
        return subprocess.run([TRIAGE, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def bare_model(stack_settings: Settings, *, count: int = 3, gate_passed: bool = True) -> BareModel:
    name = f"approvals-{uuid.uuid4().hex[:8]}"
    settings = load_settings(stack=stack_settings.stack.model_dump(), mlflow={"model_name": name, "experiment": name})
    registry = Registry(settings)
    client = registry.client
    client.create_registered_model(name)
    run = client.create_run(client.create_experiment(name))
    versions = [
        client.create_model_version(
            name,
            source=f"{run.info.artifact_uri}/model_package",
            run_id=run.info.run_id,
            tags={"gate.passed": str(gate_passed).lower()},
        ).version
        for _ in range(count)
    ]
    return BareModel(settings, registry, ApprovalLog(client, name), [str(v) for v in versions])


@pytest.fixture
def model(local_stack: Settings) -> BareModel:
    return bare_model(local_stack)
