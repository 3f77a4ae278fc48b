"""A fake MLClient for the blue/green tests: just enough of it, enforcing what Azure enforces about traffic."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError


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
