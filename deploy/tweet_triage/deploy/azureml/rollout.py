"""Blue/green on the managed online endpoint: the ordered calls, on any client with MLClient's shape.

Order matters on Azure: an endpoint is created without traffic, a deployment exists before traffic names it, and
traffic only ever names deployments that exist (the first slot ever deployed takes everything).
"""

from __future__ import annotations

from typing import Any

from tweet_triage.deploy.azureml.endpoint import (
    SLOTS,
    Slot,
    TrafficPlan,
    build_deployment,
    build_endpoint,
    canary_slot,
    checked_slot,
)
from tweet_triage.deploy.azureml.environment import build_environment
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.errors import CloudError
from tweet_triage.settings import Settings


def endpoint_or_none(client: Any, name: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return client.online_endpoints.get(name)
    except ResourceNotFoundError:
        return None


def deployed_slots(client: Any, endpoint_name: str) -> set[str]:
    return {d.name for d in client.online_deployments.list(endpoint_name) if d.name in SLOTS}


def apply_traffic(client: Any, endpoint_name: str, plan: TrafficPlan, deployed: set[str]) -> TrafficPlan:
    """Set live and mirrored traffic, naming only deployed slots; returns the plan as applied."""
    if not deployed:
        raise CloudError(f"endpoint {endpoint_name!r} has no deployment to send traffic to")
    if len(deployed) == 1:  # the only slot serves everything, whatever was asked
        plan = TrafficPlan.promote(checked_slot(next(iter(deployed))))
    endpoint = client.online_endpoints.get(endpoint_name)
    endpoint.traffic = {slot: share for slot, share in plan.live.items() if slot in deployed}
    endpoint.mirror_traffic = {slot: share for slot, share in plan.mirror.items() if slot in deployed and share}
    client.online_endpoints.begin_create_or_update(endpoint).result()
    return plan


def deploy_slot(
    client: Any, settings: Settings, *, slot: Slot, version: str, plan: TrafficPlan, tree: SourceTree | None = None
) -> TrafficPlan:
    """Register the environment, create the endpoint if needed, put ``version`` on ``slot``, then apply ``plan``."""
    source = tree or SourceTree.for_settings(settings)
    name = settings.azureml.endpoint_name
    client.environments.create_or_update(build_environment(source))
    if endpoint_or_none(client, name) is None:
        endpoint = build_endpoint(settings)
        endpoint.traffic, endpoint.mirror_traffic = {}, {}  # no deployment exists yet
        client.online_endpoints.begin_create_or_update(endpoint).result()
    client.online_deployments.begin_create_or_update(
        build_deployment(settings, slot=slot, model_version=version, tree=source)
    ).result()
    return apply_traffic(client, name, plan, deployed_slots(client, name))


def promote_slot(client: Any, settings: Settings, slot: Slot | None = None) -> Slot:
    """All live traffic to ``slot`` (default: the canary), no mirroring; returns the slot."""
    name = settings.azureml.endpoint_name
    endpoint = endpoint_or_none(client, name)
    if endpoint is None:
        raise CloudError(f"endpoint {name!r} does not exist; run `triage azure deploy` first")
    target = slot or canary_slot(dict(endpoint.traffic or {}))
    deployed = deployed_slots(client, name)
    if target not in deployed:
        raise CloudError(f"slot {target} has no deployment on {name!r}; deploy it first (`triage azure deploy`)")
    apply_traffic(client, name, TrafficPlan.promote(target), deployed)
    return target
