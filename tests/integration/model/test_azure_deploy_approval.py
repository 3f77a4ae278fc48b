"""`triage azure deploy` and `promote-slot` against the real approval log (local MLflow) and a fake workspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tests.integration.model.conftest import BareModel
from tests.unit.deploy.fake_workspace import FakeWorkspace
from tweet_triage.app.cli.main import app
from tweet_triage.cli.context import CliContext
from tweet_triage.deploy.azureml import cli as azure_cli
from tweet_triage.model.approval_gate import UnapprovedModel
from tweet_triage.model.approvals import Action
from tweet_triage.model.registry import CANDIDATE
from tweet_triage.training.promotion import promote

pytestmark = [pytest.mark.integration]
pytest.importorskip("azure.ai.ml")


@pytest.fixture
def ws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWorkspace]:
    fake = FakeWorkspace()
    monkeypatch.setattr(azure_cli, "ml_client", lambda settings: fake)  # where the commands look it up
    yield fake


def azure(model: BareModel, *args: str) -> object:
    result = CliRunner().invoke(app, ["azure", *args], obj=CliContext(_settings=model.settings))
    return result.exception if result.exception is not None else result.output


def test_live_traffic_needs_an_approved_version_and_mirrored_traffic_does_not(
    model: BareModel, ws: FakeWorkspace
) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    model.registry.move_alias(CANDIDATE, v2)

    assert "v1 on blue" in str(azure(model, "deploy", "--slot", "blue", "--traffic", "100"))  # default: production
    refused = azure(model, "deploy", "--slot", "green", "--traffic", "10", "--model", v2)
    assert isinstance(refused, UnapprovedModel), refused
    assert f"refusing to give v{v2} 10 % of live traffic: v{v2} has no approval record" in str(refused)
    assert set(ws.deployments) == {"blue"} and ws.traffic == {"blue": 100}

    mirrored = azure(model, "deploy", "--slot", "green", "--traffic", "0", "--mirror", "10")  # default: candidate
    assert f"v{v2} on green" in str(mirrored), mirrored
    assert ws.traffic == {"blue": 100, "green": 0} and ws.mirror == {"green": 10}
    assert ws.deployments["green"].tags["serving_role"] == "mirror"

    switch = azure(model, "promote-slot", "--slot", "green", "--approver", "ana", "--reason", "looks fine")
    assert isinstance(switch, UnapprovedModel) and "deployed for mirrored traffic only" in str(switch)


def test_promote_slot_requires_and_writes_a_record(model: BareModel, ws: FakeWorkspace) -> None:
    v1, v2, _ = model.versions
    promote(model.registry, model.log, version=v1, approver="ana", reason="first")
    azure(model, "deploy", "--slot", "blue", "--traffic", "100")
    promote(model.registry, model.log, version=v2, approver="ben", reason="better")
    assert f"v{v2} on green" in str(azure(model, "deploy", "--slot", "green", "--traffic", "10"))
    assert ws.traffic == {"green": 10, "blue": 90}

    output = azure(model, "promote-slot", "--approver", "ben", "--reason", "canary clean for an hour")
    assert f"green (v{v2}) takes all live traffic" in str(output) and "recorded as #3 by ben" in str(output)
    assert ws.traffic == {"green": 100, "blue": 0}
    head = model.log.history()[-1]
    assert (head.seq, head.action, head.slot, head.version, head.replaced_version) == (3, Action.SLOT, "green", v2, v1)
    assert model.cli("model", "approvals", "--verify").returncode == 0
