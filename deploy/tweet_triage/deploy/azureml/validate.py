"""`triage azure validate`: build every Azure ML definition offline, validate it, write it as YAML, load it back.

Three checks per definition: the SDK's own validation where it has one (``_validate()``: schema and pipeline
wiring), the YAML written by the SDK's schema, and a round trip through the matching ``load_*`` function, which
schema-validates the YAML again and must give back the same definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tweet_triage.deploy.azureml.components import build_components
from tweet_triage.deploy.azureml.endpoint import TrafficPlan, build_deployment, build_endpoint
from tweet_triage.deploy.azureml.environment import build_environment, reference
from tweet_triage.deploy.azureml.jobs import build_retrain_pipeline, build_weekly_schedule
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.errors import UsageError
from tweet_triage.settings import Settings

EXAMPLE_MODEL_VERSION = "1"  # the deployments need a model reference; `triage azure deploy` sets the real one


@dataclass(frozen=True)
class Definition:
    name: str  # file stem
    kind: str  # environment | component | pipeline | schedule | endpoint | deployment
    entity: Any


@dataclass
class ValidationReport:
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_definitions(settings: Settings, tree: SourceTree | None = None) -> list[Definition]:
    source = tree or SourceTree.for_settings(settings)
    environment = build_environment(source)
    components = build_components(source, reference(environment))
    definitions = [Definition("environment", "environment", environment)]
    definitions += [Definition(f"component-{c.name}", "component", c) for c in components.all()]
    definitions += [
        Definition("pipeline-retrain", "pipeline", build_retrain_pipeline(settings, reason="manual", tree=source)),
        Definition("schedule-weekly", "schedule", build_weekly_schedule(settings, tree=source)),
        Definition("endpoint", "endpoint", build_endpoint(settings, TrafficPlan.initial())),
    ]
    definitions += [
        Definition(
            f"deployment-{slot}",
            "deployment",
            build_deployment(
                settings,
                slot=slot,
                model_version=EXAMPLE_MODEL_VERSION,
                tree=source,
                environment=reference(environment),
            ),
        )
        for slot in ("blue", "green")
    ]
    return definitions


def _loader(kind: str) -> Callable[..., Any]:
    from azure.ai.ml import (
        load_component,
        load_environment,
        load_job,
        load_online_deployment,
        load_online_endpoint,
    )
    from azure.ai.ml.entities._load_functions import load_schedule  # not re-exported by azure.ai.ml

    loaders: dict[str, Callable[..., Any]] = {
        "environment": load_environment,
        "component": load_component,
        "pipeline": load_job,
        "schedule": load_schedule,
        "endpoint": load_online_endpoint,
        "deployment": load_online_deployment,
    }
    return loaders[kind]


def sdk_validation(entity: Any) -> list[str]:
    """Problems the SDK's own offline validation finds (empty when it has none or all passed)."""
    validate = getattr(entity, "_validate", None)
    if validate is None:
        return []
    result = validate()
    if result is None or getattr(result, "passed", True):
        return []
    return [str(result)]


def to_yaml(entity: Any, **overrides: Any) -> str:
    data = {**_plain(entity._to_dict()), **overrides}
    text: str = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120)
    return text


def _plain(value: Any) -> Any:
    """OrderedDicts and tuples as plain dicts and lists (safe_dump refuses subclasses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def fingerprint(entity: Any) -> dict[str, Any]:
    """What must survive the round trip: the entity's own YAML form, source paths aside (they become relative)."""
    data: dict[str, Any] = _without_paths(_plain(entity._to_dict()))
    return data


def _without_paths(value: Any, parent: str = "") -> Any:
    """Drop source paths (made relative by the YAML) and an inline component's name and version (a job's inline
    components load back as anonymous components: that is the SDK's rule, not a lost definition)."""
    ignored = {"code", "base_path"} | ({"name", "version"} if parent == "component" else set())
    if isinstance(value, dict):
        return {k: _without_paths(v, k) for k, v in value.items() if k not in ignored}
    if isinstance(value, list):
        return [_without_paths(v, parent) for v in value]
    return value


def validate_all(settings: Settings, out_dir: Path, tree: SourceTree | None = None) -> ValidationReport:
    """Build, validate, dump and reload every definition; YAML files land in ``out_dir``."""
    report = ValidationReport()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out_dir}: {exc.strerror}") from None
    for definition in build_definitions(settings, tree):
        report.problems += [f"{definition.name}: {p}" for p in sdk_validation(definition.entity)]
        path = out_dir / f"{definition.name}.yml"
        overrides = {}
        if definition.kind == "schedule":
            # A schedule's YAML names its job by file (the schema has no inline form for a pipeline with components).
            job_path = out_dir / f"{definition.name}-job.yml"
            job_path.write_text(to_yaml(definition.entity.create_job), encoding="utf-8")
            report.written.append(job_path)
            overrides["create_job"] = job_path.name
        path.write_text(to_yaml(definition.entity, **overrides), encoding="utf-8")
        report.written.append(path)
        load = _loader(definition.kind)
        try:
            loaded = load(source=path)
        except Exception as exc:  # the SDK raises many types; each one is a finding here
            report.problems.append(f"{definition.name}: does not load back: {type(exc).__name__}: {exc}")
            continue
        report.problems += [f"{definition.name}: loaded back: {p}" for p in sdk_validation(loaded)]
        if fingerprint(loaded) != fingerprint(definition.entity):
            report.problems.append(f"{definition.name}: differs after the YAML round trip")
    return report
