"""The managed online endpoint: blue and green deployments, a live traffic split and mirrored (shadow) traffic.

Blue/green: the live slot serves, the other slot gets the next model. A new slot first receives a *mirrored* copy
of live requests (its answers are discarded, only its metrics count), then a canary share of live traffic
(`triage azure deploy --slot green --traffic 10`), then everything (`triage azure promote-slot`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tweet_triage.deploy.azureml.environment import build_environment, reference
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.errors import UsageError
from tweet_triage.settings import Settings

if TYPE_CHECKING:
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

Slot = Literal["blue", "green"]
SLOTS: tuple[Slot, Slot] = ("blue", "green")
Role = Literal["live", "mirror"]  # live: its version was approved when deployed; mirror: shadow traffic only
SCORING_SCRIPT = "deploy/tweet_triage/deploy/azureml/score.py"
MAX_MIRROR_PERCENT = 50  # Azure ML's limit for mirrored traffic


@dataclass(frozen=True)
class TrafficPlan:
    """Live traffic per slot (sums to 100) and mirrored traffic (only to a slot with no live traffic)."""

    live: dict[str, int]
    mirror: dict[str, int]

    def __post_init__(self) -> None:
        if set(self.live) - set(SLOTS) or set(self.mirror) - set(SLOTS):
            raise UsageError(f"slots are {', '.join(SLOTS)}")
        if sum(self.live.values()) != 100 or any(not 0 <= share <= 100 for share in self.live.values()):
            raise UsageError(f"live traffic must add up to 100 %, not {self.live}")
        for slot, share in self.mirror.items():
            if not 0 <= share <= MAX_MIRROR_PERCENT:
                raise UsageError(f"mirrored traffic to {slot} must be 0..{MAX_MIRROR_PERCENT} %, not {share}")
            if share and self.live.get(slot, 0):
                raise UsageError(f"{slot} takes live traffic; mirror only to a slot with 0 % live traffic")

    @classmethod
    def initial(cls) -> TrafficPlan:
        """Blue serves everything; green receives a 10 % mirror of it (shadow testing)."""
        return cls(live={"blue": 100, "green": 0}, mirror={"green": 10})

    @classmethod
    def canary(cls, slot: Slot, percent: int) -> TrafficPlan:
        if not 0 < percent <= 100:
            raise UsageError(f"--traffic must be 1..100 %, not {percent}")
        return cls(live={slot: percent, other(slot): 100 - percent}, mirror={})

    @classmethod
    def mirrored(cls, slot: Slot, percent: int) -> TrafficPlan:
        """The slot takes no live traffic but a mirrored copy of ``percent`` % of it (its answers are discarded)."""
        return cls(live={other(slot): 100, slot: 0}, mirror={slot: percent})

    @classmethod
    def promote(cls, slot: Slot) -> TrafficPlan:
        return cls(live={slot: 100, other(slot): 0}, mirror={})


def other(slot: Slot) -> Slot:
    return "green" if slot == "blue" else "blue"


def checked_slot(value: str) -> Slot:
    if value == "blue":
        return "blue"
    if value == "green":
        return "green"
    raise UsageError(f"--slot must be one of {', '.join(SLOTS)}, not {value!r}")


def canary_slot(live: dict[str, int]) -> Slot:
    """The slot a promotion should move to: the one holding a partial share of live traffic."""
    partial = [slot for slot in SLOTS if 0 < live.get(slot, 0) < 100]
    if not partial:
        serving = [slot for slot in SLOTS if live.get(slot, 0) == 100]
        hint = f"{serving[0]} already takes all live traffic" if serving else f"traffic is {live}"
        raise UsageError(f"no canary to promote ({hint}); name the slot with --slot")
    # Two partial shares (e.g. 90/10): the canary is the smaller one.
    return min(partial, key=lambda slot: live[slot])


def build_endpoint(settings: Settings, plan: TrafficPlan | None = None) -> ManagedOnlineEndpoint:
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    plan = plan or TrafficPlan.initial()
    return ManagedOnlineEndpoint(
        name=settings.azureml.endpoint_name,
        description="tweet-triage scoring (int8 ONNX); blue/green with mirrored traffic",
        auth_mode="key",
        traffic=dict(plan.live),
        mirror_traffic=dict(plan.mirror),
        tags={"project": "tweet-triage"},
    )


def build_deployment(
    settings: Settings,
    *,
    slot: Slot,
    model_version: str,
    role: Role = "live",
    tree: SourceTree | None = None,
    environment: str | None = None,
) -> ManagedOnlineDeployment:
    """One slot serving registered model ``model_version`` with the project's predictor (score.py).

    ``role`` travels as a tag (so traffic changes can tell a shadow deployment from a live one) and as
    ``TRIAGE_SERVING_ROLE``: a live deployment's scoring script checks the approval log before it loads the model,
    so the registry it reads is passed too."""
    from azure.ai.ml.entities import CodeConfiguration, ManagedOnlineDeployment, OnlineRequestSettings, ProbeSettings

    checked_slot(slot)
    source = tree or SourceTree.for_settings(settings)
    azureml = settings.azureml
    return ManagedOnlineDeployment(
        name=slot,
        endpoint_name=azureml.endpoint_name,
        description=f"{settings.mlflow.model_name} v{model_version}",
        model=f"azureml:{settings.mlflow.model_name}:{model_version}",
        environment=environment or reference(build_environment(source)),
        code_configuration=CodeConfiguration(code=str(source.root), scoring_script=SCORING_SCRIPT),
        instance_type=azureml.instance_type,
        instance_count=azureml.instance_count,
        environment_variables={
            "TRIAGE_MODEL_VERSION": model_version,
            "TRIAGE_SCORING_THREADS": "2",
            "TRIAGE_SERVING_ROLE": role,
            "TRIAGE_MLFLOW__TRACKING_URI": settings.mlflow_tracking_uri,
            "TRIAGE_MLFLOW__MODEL_NAME": settings.mlflow.model_name,
        },
        request_settings=OnlineRequestSettings(request_timeout_ms=5000, max_concurrent_requests_per_instance=2),
        liveness_probe=ProbeSettings(initial_delay=30, period=10, failure_threshold=6),
        readiness_probe=ProbeSettings(initial_delay=30, period=10, failure_threshold=6),
        tags={"model_version": model_version, "slot": slot, "serving_role": role},
    )
