"""Blue/green calls against a fake MLClient: order, and traffic that only ever names deployed slots."""

from __future__ import annotations

import pytest

from tests.unit.deploy.fake_workspace import FakeWorkspace
from tests.unit.model.approval_entries import MemoryApprovalLog
from tweet_triage.deploy.azureml.endpoint import TrafficPlan
from tweet_triage.deploy.azureml.rollout import deploy_slot, promote_slot
from tweet_triage.errors import CloudError, UsageError
from tweet_triage.model.approval_gate import UnapprovedModel
from tweet_triage.model.approvals import Action
from tweet_triage.settings import Settings, load_settings

pytest.importorskip("azure.ai.ml")


@pytest.fixture
def settings() -> Settings:
    return load_settings(mlflow={"model_name": "tt"}, azureml={"endpoint_name": "tt-endpoint"})


@pytest.fixture
def approvals() -> MemoryApprovalLog:
    return MemoryApprovalLog()


def test_the_first_slot_creates_the_endpoint_and_takes_all_traffic(
    settings: Settings, approvals: MemoryApprovalLog
) -> None:
    ws = FakeWorkspace()
    approvals.approve("1")
    applied = deploy_slot(
        ws, settings, slot="blue", version="1", plan=TrafficPlan.canary("blue", 10), gate=approvals.gate()
    )
    assert ws.calls[0] == "environment tweet-triage"
    assert ws.calls[1] == "endpoint traffic={} mirror={}"
    assert ws.calls[2] == "deployment blue azureml:tt:1"
    assert ws.traffic == {"blue": 100} and applied.live["blue"] == 100
    assert ws.deployments["blue"].tags["serving_role"] == "live"
    assert ws.deployments["blue"].environment_variables["TRIAGE_SERVING_ROLE"] == "live"


def test_an_unapproved_version_never_becomes_the_only_slot_nor_gets_live_traffic(
    settings: Settings, approvals: MemoryApprovalLog
) -> None:
    ws = FakeWorkspace()
    approvals.approve("1")
    for plan in (TrafficPlan.canary("green", 10), TrafficPlan.mirrored("green", 10)):
        with pytest.raises(UnapprovedModel, match="refusing to give v2"):
            deploy_slot(ws, settings, slot="green", version="2", plan=plan, gate=approvals.gate())
    assert ws.deployments == {} and ws.endpoints == {}, "nothing was deployed"
    deploy_slot(ws, settings, slot="blue", version="1", plan=TrafficPlan.promote("blue"), gate=approvals.gate())
    with pytest.raises(UnapprovedModel, match="10 % of live traffic: v2 has no approval record"):
        deploy_slot(
            ws, settings, slot="green", version="2", plan=TrafficPlan.canary("green", 10), gate=approvals.gate()
        )
    assert set(ws.deployments) == {"blue"}


def test_mirror_then_approval_then_canary_then_the_recorded_switch_and_a_rollback(
    settings: Settings, approvals: MemoryApprovalLog
) -> None:
    ws = FakeWorkspace()
    approvals.approve("1")
    gate = approvals.gate()
    deploy_slot(ws, settings, slot="blue", version="1", plan=TrafficPlan.promote("blue"), gate=gate)
    deploy_slot(ws, settings, slot="green", version="2", plan=TrafficPlan.mirrored("green", 20), gate=gate)
    assert ws.traffic == {"blue": 100, "green": 0} and ws.mirror == {"green": 20}
    assert ws.deployments["green"].tags["serving_role"] == "mirror"

    approvals.approve("2")  # `triage model promote 2`
    with pytest.raises(UnapprovedModel, match="deployed for mirrored traffic only"):
        promote_slot(ws, settings, "green", gate=gate, approver="ana", reason="approved")
    deploy_slot(ws, settings, slot="green", version="2", plan=TrafficPlan.canary("green", 10), gate=gate)
    assert ws.traffic == {"green": 10, "blue": 90} and ws.mirror == {}
    assert ws.deployments["green"].tags["serving_role"] == "live"

    record = promote_slot(ws, settings, gate=gate, approver="ana", reason="canary looked fine")  # the canary
    assert ws.traffic == {"green": 100, "blue": 0}
    assert (record.action, record.slot, record.version, record.replaced_version) == (Action.SLOT, "green", "2", "1")
    assert (record.seq, record.approver) == (3, "ana") and record.intact()

    with pytest.raises(UnapprovedModel, match="blue \\(v1\\) 100 % of live traffic: v1 has no approval record"):
        promote_slot(ws, settings, "blue", gate=gate, approver="ana", reason="rollback")
    assert ws.traffic == {"green": 100, "blue": 0}
    approvals.approve("1", action=Action.ROLLBACK)  # `triage model rollback`
    back = promote_slot(ws, settings, "blue", gate=gate, approver="ben", reason="v2 mislabels floods")
    assert ws.traffic == {"blue": 100, "green": 0} and back.version == "1"
    assert [r.action for r in approvals.written] == [
        Action.PROMOTE,
        Action.PROMOTE,
        Action.SLOT,
        Action.ROLLBACK,
        Action.SLOT,
    ]
    assert sum(1 for c in ws.calls if c.startswith("endpoint traffic={}")) == 1  # created once


def test_promotion_needs_an_endpoint_a_canary_a_deployed_slot_and_who_and_why(
    settings: Settings, approvals: MemoryApprovalLog
) -> None:
    ws = FakeWorkspace()
    gate = approvals.gate()
    approvals.approve("1")
    with pytest.raises(CloudError, match="does not exist"):
        promote_slot(ws, settings, gate=gate, approver="ana", reason="r")
    deploy_slot(ws, settings, slot="blue", version="1", plan=TrafficPlan.promote("blue"), gate=gate)
    with pytest.raises(UsageError, match="no canary"):
        promote_slot(ws, settings, gate=gate, approver="ana", reason="r")
    with pytest.raises(CloudError, match="slot green has no deployment"):
        promote_slot(ws, settings, "green", gate=gate, approver="ana", reason="r")
    with pytest.raises(UsageError, match="must not be blank"):
        promote_slot(ws, settings, "blue", gate=gate, approver=" ", reason="r")
    assert len(approvals.written) == 1, "refusals record nothing"
