"""Blue/green calls against a fake MLClient: order, and traffic that only ever names deployed slots."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from tweet_triage.deploy.azureml.endpoint import TrafficPlan
from tweet_triage.deploy.azureml.rollout import deploy_slot, promote_slot
from tweet_triage.errors import CloudError, UsageError
from tweet_triage.settings import Settings, load_settings

pytest.importorskip("azure.ai.ml")


@dataclass
class Done:
    value: Any = None

    def result(self) -> Any:
        return self.value


@dataclass
class FakeWorkspace:
    """Just enough of MLClient: it enforces what Azure enforces about traffic."""

    endpoints: dict[str, Any] = field(default_factory=dict)
    deployments: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        workspace = self

        class Environments:
            def create_or_update(self, environment: Any) -> Any:
                workspace.calls.append(f"environment {environment.name}")
                return environment

        class Endpoints:
            def get(self, name: str) -> Any:
                from azure.core.exceptions import ResourceNotFoundError

                if name not in workspace.endpoints:
                    raise ResourceNotFoundError(f"no endpoint {name}")
                return copy.deepcopy(workspace.endpoints[name])

            def begin_create_or_update(self, endpoint: Any) -> Done:
                named = set(endpoint.traffic or {}) | set(endpoint.mirror_traffic or {})
                missing = named - set(workspace.deployments)
                assert not missing, f"traffic names deployments that do not exist: {missing}"
                if endpoint.traffic:
                    assert sum(endpoint.traffic.values()) == 100
                workspace.calls.append(f"endpoint traffic={endpoint.traffic} mirror={endpoint.mirror_traffic}")
                workspace.endpoints[endpoint.name] = copy.deepcopy(endpoint)
                return Done(endpoint)

        class Deployments:
            def begin_create_or_update(self, deployment: Any) -> Done:
                assert deployment.endpoint_name in workspace.endpoints, "deployment before its endpoint"
                workspace.calls.append(f"deployment {deployment.name} {deployment.model}")
                workspace.deployments[deployment.name] = deployment
                return Done(deployment)

            def list(self, endpoint_name: str) -> list[Any]:
                return [d for d in workspace.deployments.values() if d.endpoint_name == endpoint_name]

        self.environments = Environments()
        self.online_endpoints = Endpoints()
        self.online_deployments = Deployments()

    @property
    def traffic(self) -> dict[str, int]:
        return dict(next(iter(self.endpoints.values())).traffic)

    @property
    def mirror(self) -> dict[str, int]:
        return dict(next(iter(self.endpoints.values())).mirror_traffic or {})


@pytest.fixture
def settings() -> Settings:
    return load_settings(mlflow={"model_name": "tt"}, azureml={"endpoint_name": "tt-endpoint"})


def test_the_first_slot_creates_the_endpoint_and_takes_all_traffic(settings: Settings) -> None:
    ws = FakeWorkspace()
    applied = deploy_slot(ws, settings, slot="blue", version="1", plan=TrafficPlan.canary("blue", 10))
    assert ws.calls[0] == "environment tweet-triage"
    assert ws.calls[1] == "endpoint traffic={} mirror={}"
    assert ws.calls[2] == "deployment blue azureml:tt:1"
    assert ws.traffic == {"blue": 100} and applied.live["blue"] == 100


def test_canary_mirror_promote_and_rollback(settings: Settings) -> None:
    ws = FakeWorkspace()
    deploy_slot(ws, settings, slot="blue", version="1", plan=TrafficPlan.promote("blue"))
    deploy_slot(ws, settings, slot="green", version="2", plan=TrafficPlan.mirrored("green", 20))
    assert ws.traffic == {"blue": 100, "green": 0} and ws.mirror == {"green": 20}
    deploy_slot(ws, settings, slot="green", version="2", plan=TrafficPlan.canary("green", 10))
    assert ws.traffic == {"green": 10, "blue": 90} and ws.mirror == {}
    assert promote_slot(ws, settings) == "green"  # the canary
    assert ws.traffic == {"green": 100, "blue": 0}
    assert promote_slot(ws, settings, "blue") == "blue"  # rollback
    assert ws.traffic == {"blue": 100, "green": 0}
    assert sum(1 for c in ws.calls if c.startswith("endpoint traffic={}")) == 1  # created once


def test_promotion_needs_an_endpoint_a_canary_and_a_deployed_slot(settings: Settings) -> None:
    ws = FakeWorkspace()
    with pytest.raises(CloudError, match="does not exist"):
        promote_slot(ws, settings)
    deploy_slot(ws, settings, slot="blue", version="1", plan=TrafficPlan.promote("blue"))
    with pytest.raises(UsageError, match="no canary"):
        promote_slot(ws, settings)
    with pytest.raises(CloudError, match="slot green has no deployment"):
        promote_slot(ws, settings, "green")
