"""Commands that need Azure fail fast, without a traceback, naming the missing setting or credential."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tweet_triage.deploy.azureml import jobs, workspace
from tweet_triage.deploy.azureml.endpoint import TrafficPlan, canary_slot
from tweet_triage.deploy.azureml.jobs import PIPELINE_NAME, submit_retrain
from tweet_triage.errors import CloudError, SettingsError, UsageError
from tweet_triage.settings import load_settings

TRIAGE = str(Path(sys.executable).with_name("triage"))
WORKSPACE = {
    "TRIAGE_AZUREML__SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "TRIAGE_AZUREML__RESOURCE_GROUP": "rg-tweet-triage",
    "TRIAGE_AZUREML__WORKSPACE_NAME": "mlw-tweet-triage",
}
NO_CREDENTIAL = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE")


def _run(args: list[str], extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "AZURE_", "IDENTITY_", "MSI_"))}
    env.update(extra)
    env["PATH"] = str(Path(sys.executable).parent)  # no `az`, `azd` or pwsh on the path: no CLI credential
    env["HOME"] = str(tmp_path)  # no cached az login
    return subprocess.run(
        [TRIAGE, *args], check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


COMMANDS = [
    ["azure", "submit-retrain", "--reason", "test"],
    ["azure", "deploy", "--slot", "green", "--traffic", "10"],
    ["azure", "promote-slot", "--approver", "ana", "--reason", "canary clean"],
    ["azure", "schedule"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[1])
def test_without_settings_the_missing_variables_are_named(command: list[str], tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run(command, {}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for name in WORKSPACE:
        assert name in result.stderr.replace("\n", "")
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[1])
def test_without_a_credential_the_missing_credential_is_named(command: list[str], tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run(command, {**WORKSPACE, "TRIAGE_AZUREML__CREDENTIAL_TIMEOUT_S": "15"}, tmp_path)
    assert result.returncode == 1, result.stderr
    stderr = " ".join(result.stderr.split())
    assert "Traceback" not in stderr
    assert "Azure credential" in stderr
    assert "AZURE_CLIENT_ID" in stderr and "az login" in stderr
    assert time.monotonic() - started < 40


def test_a_hanging_credential_is_abandoned_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    class Hanging:
        def __init__(self, **_: object) -> None:
            pass

        def get_token(self, *_: object) -> None:
            release.wait(30)  # a managed-identity probe that never answers

    monkeypatch.setattr(workspace, "DefaultAzureCredential", Hanging)
    started = time.monotonic()
    try:
        with pytest.raises(CloudError, match=r"no Azure credential within 1 s"):
            workspace.acquire_credential(1.0)
    finally:
        release.set()
    assert time.monotonic() - started < 5


def test_settings_are_checked_before_any_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(_: float) -> None:
        raise AssertionError("credential tried before settings were checked")

    monkeypatch.setattr(workspace, "acquire_credential", fail)
    settings = load_settings(azureml={"subscription_id": "sub", "resource_group": "rg"})
    with pytest.raises(SettingsError, match="TRIAGE_AZUREML__WORKSPACE_NAME") as caught:
        workspace.ml_client(settings)
    assert "SUBSCRIPTION_ID" not in str(caught.value)


def test_traffic_plans() -> None:
    assert TrafficPlan.canary("green", 10).live == {"green": 10, "blue": 90}
    assert TrafficPlan.mirrored("green", 20) == TrafficPlan(live={"blue": 100, "green": 0}, mirror={"green": 20})
    assert TrafficPlan.promote("green").live == {"green": 100, "blue": 0}
    with pytest.raises(UsageError, match="add up to 100"):
        TrafficPlan(live={"blue": 90, "green": 20}, mirror={})
    with pytest.raises(UsageError, match="0 % live traffic"):
        TrafficPlan(live={"blue": 90, "green": 10}, mirror={"green": 10})
    with pytest.raises(UsageError, match=r"0\.\.50"):
        TrafficPlan.mirrored("blue", 60)


def test_promotion_targets_the_canary() -> None:
    assert canary_slot({"blue": 90, "green": 10}) == "green"
    assert canary_slot({"blue": 30, "green": 70}) == "blue"
    with pytest.raises(UsageError, match="blue already takes all live traffic"):
        canary_slot({"blue": 100, "green": 0})


def test_validate_command_writes_yaml(tmp_path: Path) -> None:
    result = _run(["azure", "validate", "--out", str(tmp_path / "out")], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "12 definitions valid" in result.stdout
    assert "experimental class" not in result.stdout + result.stderr
    assert (tmp_path / "out" / "schedule-weekly.yml").is_file()


def test_submit_retrain_registers_the_environment_and_submits_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[tuple[str, object]] = []

    class Client:
        environments = SimpleNamespace(create_or_update=lambda env: submitted.append(("environment", env)))

        class jobs:  # noqa: N801 - the attribute name MLClient uses
            @staticmethod
            def create_or_update(job: object, experiment_name: str) -> object:
                submitted.append((experiment_name, job))
                return SimpleNamespace(name="quiet_apple_42")

    monkeypatch.setattr(jobs, "ml_client", lambda settings: Client())
    settings = load_settings(azureml={"experiment": "retrain-tests"})
    assert submit_retrain(settings, reason="accuracy 0.71 < 0.80") == "quiet_apple_42"
    (kind, environment), (experiment, job) = submitted
    assert kind == "environment" and environment.name == "tweet-triage"  # type: ignore[attr-defined]
    assert experiment == "retrain-tests"
    assert job.display_name == "tweet-triage retrain" and job.component.name == PIPELINE_NAME  # type: ignore[attr-defined]
    assert job.inputs["reason"]._data == "accuracy 0.71 _ 0.80"  # type: ignore[attr-defined]
