"""Every Azure ML definition builds, validates and round-trips through YAML, offline."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]

from tweet_triage.deploy.azureml import components, stages
from tweet_triage.deploy.azureml.components import STAGE
from tweet_triage.deploy.azureml.environment import TORCH_CPU_INDEX, conda_specification
from tweet_triage.deploy.azureml.jobs import build_retrain_pipeline, build_weekly_schedule
from tweet_triage.deploy.azureml.source import SourceTree, read_pins
from tweet_triage.deploy.azureml.validate import Definition, build_definitions, validate_all
from tweet_triage.errors import UsageError
from tweet_triage.settings import Settings, load_settings

pytest.importorskip("azure.ai.ml")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(azureml={"compute": "cpu-cluster"}, retrain={"weekly_day": "sun", "weekly_hour": 4})


@pytest.fixture(scope="module")
def definitions(settings: Settings) -> dict[str, Definition]:
    return {d.name: d for d in build_definitions(settings)}


def test_validate_writes_every_definition_and_each_round_trips(settings: Settings, tmp_path: Path) -> None:
    report = validate_all(settings, tmp_path)
    assert report.ok, report.problems
    names = {p.name for p in report.written}
    assert names == {
        "environment.yml",
        *(f"component-tweet_triage_{s}.yml" for s in ("prepare", "train", "export", "evaluate", "register")),
        "pipeline-retrain.yml",
        "schedule-weekly.yml",
        "schedule-weekly-job.yml",
        "endpoint.yml",
        "deployment-blue.yml",
        "deployment-green.yml",
    }
    for path in report.written:
        assert yaml.safe_load(path.read_text())  # plain YAML, readable without the SDK


def test_validation_reports_a_broken_pipeline(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round trip is a real check: a component that reads an input it does not declare is reported."""
    original = components.build_components

    def broken(tree: SourceTree, environment: str) -> components.Components:
        built = original(tree, environment)
        built.train.command = f"{built.train.command} --extra ${{{{inputs.not_declared}}}}"
        return built

    monkeypatch.setattr(components, "build_components", broken)
    monkeypatch.setattr("tweet_triage.deploy.azureml.validate.build_components", broken)
    monkeypatch.setattr("tweet_triage.deploy.azureml.jobs.build_components", broken)
    report = validate_all(settings, tmp_path)
    assert not report.ok
    assert any("tweet_triage_train" in p or "not_declared" in p for p in report.problems), report.problems


def test_pipeline_runs_the_five_stages_in_order(settings: Settings) -> None:
    job = build_retrain_pipeline(settings, reason="drift: psi 0.4; `rm -rf` $HOME", feedback_data="azureml:fb@latest")
    assert job._validate().passed
    data: dict[str, Any] = job._to_dict()
    steps = data["jobs"]
    assert set(steps) == {"prepared", "trained", "exported", "evaluated", "registered"}
    assert steps["trained"]["inputs"]["prepared"]["path"] == "${{parent.jobs.prepared.outputs.prepared}}"
    assert steps["exported"]["inputs"]["model"]["path"] == "${{parent.jobs.trained.outputs.model}}"
    assert steps["evaluated"]["inputs"]["packages"]["path"] == "${{parent.jobs.exported.outputs.packages}}"
    assert steps["registered"]["inputs"]["evaluation"]["path"] == "${{parent.jobs.evaluated.outputs.evaluation}}"
    assert steps["prepared"]["inputs"]["feedback_data"]["path"] == "azureml:fb@latest"
    # the reason reaches a shell command line: quotes, backticks and $ are neutralised
    reason = data["inputs"]["reason"]
    assert "`" not in reason and "$" not in reason and "drift" in reason
    assert data["compute"] == "azureml:cpu-cluster"


def test_schedule_is_weekly(settings: Settings) -> None:
    schedule = build_weekly_schedule(settings)
    trigger = schedule._to_dict()["trigger"]
    assert trigger["type"] == "recurrence"
    assert (trigger["frequency"], trigger["interval"]) == ("week", 1)
    assert trigger["schedule"] == {"hours": [4], "minutes": [0], "week_days": ["sunday"]}
    assert schedule.create_job.inputs["reason"]._data == "weekly schedule"  # type: ignore[union-attr]


def test_endpoint_has_blue_and_green_with_a_split_and_a_mirror(definitions: dict[str, Definition]) -> None:
    endpoint = definitions["endpoint"].entity
    slots = {d.entity.name for d in definitions.values() if d.kind == "deployment"}
    assert slots == {"blue", "green"}
    assert set(endpoint.traffic) == slots and sum(endpoint.traffic.values()) == 100
    assert endpoint.mirror_traffic == {"green": 10} and endpoint.traffic["green"] == 0
    for slot in slots:
        deployment = definitions[f"deployment-{slot}"].entity
        assert deployment.endpoint_name == endpoint.name
        assert deployment.code_configuration.scoring_script.endswith("azureml/score.py")
        assert Path(deployment.code_configuration.code, deployment.code_configuration.scoring_script).is_file()


def test_environment_is_pinned_from_constraints_with_cpu_torch_first() -> None:
    tree = SourceTree.locate()
    pins = read_pins(tree.constraints)
    pip = conda_specification(tree)["dependencies"][2]["pip"]
    assert pip[0] == f"--extra-index-url {TORCH_CPU_INDEX}"
    assert pip[1] == f"torch=={pins['torch']}+cpu"
    pinned = dict(line.split("==", 1) for line in pip[2:] if "==" in line)
    assert pinned["onnxruntime"] == pins["onnxruntime"]
    assert pinned["azure-ai-ml"] == pins["azure-ai-ml"]
    assert "pytest" not in pinned  # dev tools stay out of the runtime environment
    assert all(pins[name] == version for name, version in pinned.items())


def _stage_commands() -> dict[str, set[str]]:
    """The `triage azure stage` commands and the options each accepts."""
    group = typer.main.get_command(stages.app)
    return {
        name: {opt for param in command.params for opt in getattr(param, "opts", [])}
        for name, command in group.commands.items()  # type: ignore[attr-defined]
    }


def test_every_component_runs_a_real_stage_command_with_known_options(definitions: dict[str, Definition]) -> None:
    commands = _stage_commands()
    components = [d.entity for d in definitions.values() if d.kind == "component"]
    assert len(components) == 5
    for component in components:
        line = component.command.split("&&", 1)[1]
        words = shlex.split(line.replace("$[[", "").replace("]]", ""))
        assert " ".join(words[:3]) == STAGE
        name, args = words[3], words[4:]
        assert name in commands, f"{component.name}: no stage command {name!r}"
        options = {w for w in args if w.startswith("--")}
        assert options <= commands[name], f"{component.name}: unknown options {options - commands[name]}"
        inputs = {w[len("${{inputs.") : -2] for w in args if w.startswith("${{inputs.")}
        outputs = {w[len("${{outputs.") : -2] for w in args if w.startswith("${{outputs.")}
        assert inputs <= set(component.inputs) and outputs == set(component.outputs)


def test_the_source_tree_comes_from_the_settings_in_installed_images(tmp_path: Path) -> None:
    settings = load_settings(azureml={"source_dir": tmp_path})
    with pytest.raises(UsageError, match="TRIAGE_AZUREML__SOURCE_DIR"):
        SourceTree.for_settings(settings)
    here = SourceTree.locate()
    for name in ("pyproject.toml", "constraints.txt"):
        (tmp_path / name).write_text((here.root / name).read_text())
    assert SourceTree.for_settings(settings).root == tmp_path
    assert SourceTree.for_settings(load_settings()).root == here.root
