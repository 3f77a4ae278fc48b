"""Blue/green on the managed online endpoint: the ordered calls, on any client with MLClient's shape.

Order matters on Azure: an endpoint is created without traffic, a deployment exists before traffic names it, and
traffic only ever names deployments that exist (the first slot ever deployed takes everything).

Approval matters here as everywhere (:mod:`tweet_triage.model.approval_gate`): a slot may only *gain* live traffic
if its version is the approved production version and it was deployed as a live slot; a version without approval
is deployed as a ``mirror`` slot and gets mirrored (shadow) traffic only — never as the endpoint's only slot, which
would take all live traffic. Shifting all live traffic (:func:`promote_slot`) is itself recorded in the approval log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from tweet_triage.deploy.azureml.endpoint import (
    SLOTS,
    Role,
    Slot,
    TrafficPlan,
    build_deployment,
    build_endpoint,
    canary_slot,
    checked_slot,
)
from tweet_triage.deploy.azureml.environment import build_environment
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.errors import CloudError, UsageError
from tweet_triage.model.approval_gate import ApprovalGate, ApprovalVerdict, UnapprovedModel, judge
from tweet_triage.model.approvals import Action, ApprovalRecord
from tweet_triage.settings import Settings

Judge = Callable[[str], ApprovalVerdict]


@dataclass(frozen=True)
class SlotInfo:
    slot: str
    version: str
    role: Role


def endpoint_or_none(client: Any, name: str) -> Any:
    try:
        return client.online_endpoints.get(name)
    except ResourceNotFoundError:
        return None


def deployed(client: Any, endpoint_name: str) -> dict[str, SlotInfo]:
    """The deployed slots with the version each serves and the role it was deployed for."""
    found = {}
    for deployment in client.online_deployments.list(endpoint_name):
        if deployment.name in SLOTS:
            tags = dict(deployment.tags or {})
            role: Role = "live" if tags.get("serving_role", "live") == "live" else "mirror"
            found[deployment.name] = SlotInfo(deployment.name, str(tags.get("model_version", "")), role)
    return found


def check_live_gains(current: dict[str, int], plan: TrafficPlan, slots: dict[str, SlotInfo], approve: Judge) -> None:
    """Refuse a plan in which a slot gains live traffic without being a live slot serving the approved version.

    Slots keeping or losing live traffic are not checked: during a canary the outgoing version keeps its share."""
    for slot, share in plan.live.items():
        if share <= current.get(slot, 0) or slot not in slots:
            continue
        info = slots[slot]
        if info.role != "live":
            raise UnapprovedModel(
                f"refusing to give {slot} {share} % of live traffic: it was deployed for mirrored traffic only "
                f"(v{info.version} was not approved then); deploy it again with live traffic once approved "
                f"(`triage azure deploy --slot {slot} --traffic {share} --model {info.version}`)"
            )
        verdict = approve(info.version)
        if not verdict.approved:
            raise UnapprovedModel(
                f"refusing to give {slot} (v{info.version}) {share} % of live traffic: {verdict.reason}; "
                f"mirror it instead (`--traffic 0 --mirror N`) until it is approved"
            )


def apply_traffic(
    client: Any, endpoint_name: str, plan: TrafficPlan, slots: dict[str, SlotInfo], approve: Judge
) -> TrafficPlan:
    """Set live and mirrored traffic, naming only deployed slots; returns the plan as applied."""
    if not slots:
        raise CloudError(f"endpoint {endpoint_name!r} has no deployment to send traffic to")
    if len(slots) == 1:  # the only slot serves everything, whatever was asked
        plan = TrafficPlan.promote(checked_slot(next(iter(slots))))
    endpoint = client.online_endpoints.get(endpoint_name)
    check_live_gains(dict(endpoint.traffic or {}), plan, slots, approve)
    endpoint.traffic = {slot: share for slot, share in plan.live.items() if slot in slots}
    endpoint.mirror_traffic = {slot: share for slot, share in plan.mirror.items() if slot in slots and share}
    client.online_endpoints.begin_create_or_update(endpoint).result()
    return plan


def deploy_slot(
    client: Any,
    settings: Settings,
    *,
    slot: Slot,
    version: str,
    plan: TrafficPlan,
    gate: ApprovalGate,
    tree: SourceTree | None = None,
) -> TrafficPlan:
    """Register the environment, create the endpoint if needed, put ``version`` on ``slot``, then apply ``plan``.

    An approved version is deployed as a live slot; any other version as a mirror slot, which is refused when no
    other slot is deployed (the only slot takes all live traffic)."""
    name = settings.azureml.endpoint_name
    verdict = gate.check(version)
    role: Role = "live" if verdict.approved else "mirror"
    existing = deployed(client, name) if endpoint_or_none(client, name) is not None else {}
    others = {s: info for s, info in existing.items() if s != slot}
    wanted = plan.live.get(slot, 0)
    if not verdict.approved and (wanted or not others):
        why = f"{wanted} % of live traffic" if wanted else "all live traffic as the endpoint's only deployment"
        raise UnapprovedModel(
            f"refusing to give v{version} {why}: {verdict.reason}. Until it is approved it may only get mirrored "
            "traffic next to an approved deployment (`triage azure deploy --slot SLOT --traffic 0 --mirror N`)"
        )
    source = tree or SourceTree.for_settings(settings)
    client.environments.create_or_update(build_environment(source))
    if endpoint_or_none(client, name) is None:
        endpoint = build_endpoint(settings)
        endpoint.traffic, endpoint.mirror_traffic = {}, {}  # no deployment exists yet
        client.online_endpoints.begin_create_or_update(endpoint).result()
    client.online_deployments.begin_create_or_update(
        build_deployment(settings, slot=slot, model_version=version, role=role, tree=source)
    ).result()
    slots = {**others, slot: SlotInfo(slot, version, role)}
    return apply_traffic(client, name, plan, slots, gate.check)


def promote_slot(
    client: Any,
    settings: Settings,
    slot: Slot | None = None,
    *,
    gate: ApprovalGate,
    approver: str,
    reason: str,
    clock: Callable[[], float] = time.time,
) -> ApprovalRecord:
    """All live traffic to ``slot`` (default: the canary), no mirroring — only for a live slot serving the approved
    version, under the approval log's lock, and recorded there (action ``slot``). Returns the record."""
    name = settings.azureml.endpoint_name
    if not approver.strip() or not reason.strip():
        raise UsageError("--approver and --reason must not be blank: a traffic switch is recorded with who and why")
    endpoint = endpoint_or_none(client, name)
    if endpoint is None:
        raise CloudError(f"endpoint {name!r} does not exist; run `triage azure deploy` first")
    live = dict(endpoint.traffic or {})
    target = slot or canary_slot(live)
    slots = deployed(client, name)
    if target not in slots:
        raise CloudError(f"slot {target} has no deployment on {name!r}; deploy it first (`triage azure deploy`)")
    outgoing = max((s for s in slots if s != target), key=lambda s: live.get(s, 0), default=None)
    with gate.log.transaction(holder=approver) as tx:
        verdict = judge(slots[target].version, tx.entries)
        apply_traffic(client, name, TrafficPlan.promote(target), slots, lambda version: judge(version, tx.entries))
        now = dict(client.online_endpoints.get(name).traffic or {})
        if now.get(target, 0) != 100:
            raise CloudError(f"after the switch {name!r} sends {now} of its live traffic; nothing was recorded")
        return tx.append(
            ApprovalRecord(
                action=Action.SLOT,
                model=settings.mlflow.model_name,
                version=slots[target].version,
                replaced_version=slots[outgoing].version if outgoing and live.get(outgoing) else None,
                approver=approver.strip(),
                reason=reason.strip(),
                gate_passed=verdict.record.gate_passed if verdict.record else False,
                override_reason=None,
                at=clock(),
                slot=target,
            )
        )
