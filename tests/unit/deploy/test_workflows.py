"""GitHub workflows: the vendored GitHub schema (check-jsonschema, offline) and our own rules."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

WORKFLOWS = Path(__file__).resolve().parents[3] / ".github" / "workflows"
SHA = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
LIVE_CHANGES = ("triage model promote", "triage azure promote-slot", "production.parameters.json")


def load(name: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean True
    return {("on" if key is True else str(key)): value for key, value in raw.items()}


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def unpinned_actions(workflow: dict[str, Any]) -> list[str]:
    found = []
    for name, job in workflow["jobs"].items():
        uses = [job["uses"]] if "uses" in job else []
        uses += [step["uses"] for step in job.get("steps", []) if "uses" in step]
        found += [f"{name}: {u}" for u in uses if not u.startswith("./") and not SHA.match(u)]
    return found


def jobs_without_timeout(workflow: dict[str, Any]) -> list[str]:
    return [
        name
        for name, job in workflow["jobs"].items()
        if not isinstance(job.get("timeout-minutes"), int) or not 0 < job["timeout-minutes"] <= 120
    ]


def environment_of(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def ungated_live_changes(workflow: dict[str, Any]) -> list[str]:
    """Jobs that change production (promote the model, shift traffic, deploy production infra) without the gate."""
    found = []
    for name, job in workflow["jobs"].items():
        script = "\n".join(str(step.get("run", "")) for step in job.get("steps", []))
        if any(change in script for change in LIVE_CHANGES) and environment_of(job) != "production":
            found.append(name)
    return found


def test_workflows_exist() -> None:
    assert {"ci.yml", "cd.yml", "retrain.yml"} <= set(all_workflows())


def test_workflows_match_the_github_schema() -> None:
    binary = Path(sys.executable).with_name("check-jsonschema")
    if not binary.exists():
        pytest.skip("check-jsonschema is not installed (dev extra)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [str(binary), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "retrain.yml"])
def test_every_action_is_pinned_to_a_commit_and_every_job_has_a_timeout(name: str) -> None:
    workflow = load(name)
    assert unpinned_actions(workflow) == []
    assert jobs_without_timeout(workflow) == []


def test_the_rules_catch_what_they_claim() -> None:
    workflow = copy.deepcopy(load("cd.yml"))
    workflow["jobs"]["staging"]["steps"][0]["uses"] = "actions/checkout@v4"
    del workflow["jobs"]["images"]["timeout-minutes"]
    workflow["jobs"]["production"]["environment"] = "staging"
    assert unpinned_actions(workflow) == ["staging: actions/checkout@v4"]
    assert jobs_without_timeout(workflow) == ["images"]
    assert ungated_live_changes(workflow) == ["production"]


def test_production_cannot_run_without_the_approval_environment() -> None:
    cd = load("cd.yml")
    production = cd["jobs"]["production"]
    assert environment_of(production) == "production"
    assert production["needs"] == "staging"
    script = "\n".join(str(step.get("run", "")) for step in production["steps"])
    assert "triage model promote" in script and "promote-slot" in script
    for name, workflow in all_workflows().items():
        assert ungated_live_changes(workflow) == [], name
    assert environment_of(cd["jobs"]["staging"]) == "staging"


def test_ci_lints_tests_and_uploads_distributions() -> None:
    ci = load("ci.yml")
    assert {"lint", "test", "dist"} <= set(ci["jobs"])
    assert set(ci["jobs"]["dist"]["needs"]) == {"lint", "test"}
    uploads = [s for s in ci["jobs"]["dist"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "dist/"
    lint_script = "\n".join(str(s.get("run", "")) for s in ci["jobs"]["lint"]["steps"])
    for command in ("ruff check", "ruff format --check", "mypy", "check-jsonschema", "triage azure validate"):
        assert command in lint_script


def test_retraining_is_weekly_and_on_demand() -> None:
    retrain = load("retrain.yml")
    triggers = retrain["on"]
    assert "workflow_dispatch" in triggers
    [schedule] = triggers["schedule"]
    minute, hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert minute.isdigit() and hour.isdigit()  # once, at a fixed time
    assert day_of_month == "*" and month == "*" and re.fullmatch(r"[0-6]", day_of_week)
    # retraining only makes candidates: it must never wait on (or be able to pass) the production approval
    assert environment_of(retrain["jobs"]["submit"]) not in (None, "production")
    script = "\n".join(str(s.get("run", "")) for s in retrain["jobs"]["submit"]["steps"])
    assert 'triage azure submit-retrain --reason "$REASON"' in script  # the reason never lands in the shell line
