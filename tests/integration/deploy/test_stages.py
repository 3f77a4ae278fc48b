"""The Azure ML components' own command lines, run locally stage by stage against the real local services.

The commands are taken from the component definitions (inputs and outputs substituted with local folders), so
what Azure ML would run is what runs here; then the endpoint's scoring script serves the registered package.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA_MIRROR
from tweet_triage.deploy.azureml import score
from tweet_triage.deploy.azureml.components import INSTALL, build_components
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.model.approval_gate import UnapprovedModel
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import CANDIDATE, Registry
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.pipeline import PipelineResult
from tweet_triage.training.promotion import promote

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "tweet-triage-azureml-stages"
OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]")
REFERENCE = re.compile(r"\$\{\{(inputs|outputs)\.(\w+)\}\}")


def command_line(component: Any, values: dict[str, object], outputs: dict[str, Path]) -> str:
    """The component's command with its inputs and outputs bound, as Azure ML would expand it (without the install)."""
    command: str = component.command.removeprefix(INSTALL)

    def optional(match: re.Match[str]) -> str:
        names = [name for kind, name in REFERENCE.findall(match[1]) if kind == "inputs"]
        return match[1] if all(name in values for name in names) else ""

    def bind(match: re.Match[str]) -> str:
        kind, name = match[1], match[2]
        if kind == "outputs":
            return shlex.quote(str(outputs[name]))
        value = values[name] if name in values else component.inputs[name].default
        return shlex.quote(str(value))

    command = OPTIONAL.sub(optional, command)
    # inside double quotes a quoted value must not be quoted twice
    command = command.replace('"${{inputs.reason}}"', "${{inputs.reason}}")
    return REFERENCE.sub(bind, command)


@dataclass(frozen=True)
class StageRun:
    settings: Settings
    folders: dict[str, Path]
    registration: dict[str, Any]


@pytest.fixture(scope="module")
def stage_run(local_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> StageRun:
    if not DATA_MIRROR:
        pytest.skip("TRIAGE_DATA__MIRROR_DIR is not set (the Kaggle file comes from the shared mirror)")
    raw = Path(DATA_MIRROR) / "disaster-tweets"
    work = tmp_path_factory.mktemp("azureml-stages")
    feedback = work / "feedback"
    feedback.mkdir()
    (feedback / "labels.csv").write_text(
        "tweet_id,text,label\nf1,the dam has burst and the valley is flooding,disaster\n"
        "f2,this new album is straight fire,not_disaster\n",
        encoding="utf-8",
    )
    folders = {name: work / name for name in ("prepared", "model", "packages", "evaluation", "registration")}
    stack = local_stack.stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "TRIAGE_STACK__STATE_DIR": str(stack.state_dir),
            "TRIAGE_STACK__KAFKA_PORT": str(stack.kafka_port),
            "TRIAGE_STACK__COSMOS_PORT": str(stack.cosmos_port),
            "TRIAGE_STACK__MLFLOW_PORT": str(stack.mlflow_port),
            "TRIAGE_MLFLOW__MODEL_NAME": MODEL,
            "TRIAGE_MLFLOW__EXPERIMENT": MODEL,
        }
    )
    components = build_components(SourceTree.locate(), "azureml:tweet-triage:test")
    steps: list[tuple[Any, dict[str, object], dict[str, Path]]] = [
        (components.prepare, {"raw_data": raw, "feedback_data": feedback}, {"prepared": folders["prepared"]}),
        (
            components.train,
            {"prepared": folders["prepared"], "max_samples": 300, "max_steps": 20, "epochs": 1},
            {"model": folders["model"]},
        ),
        (
            components.export,
            # The fp32 reference graph only: a 20-step model's int8 labels may differ from fp32's by more than the
            # rule allows on some CPUs (the int8 stages are the ones `triage train` runs, tested with the session's
            # model); the Azure path's own commands, inputs and outputs are what this test is about.
            {"prepared": folders["prepared"], "model": folders["model"], "study": "quick", "quantization": "fp32"},
            {"packages": folders["packages"]},
        ),
        (
            components.evaluate,
            {
                "prepared": folders["prepared"],
                "model": folders["model"],
                "packages": folders["packages"],
                "max_samples": 300,
            },
            {"evaluation": folders["evaluation"]},
        ),
        (
            components.register,
            {
                "prepared": folders["prepared"],
                "model": folders["model"],
                "packages": folders["packages"],
                "evaluation": folders["evaluation"],
                "reason": "drift alert 42: psi 0.31",
                "git_commit": "0123abc",
            },
            {"registration": folders["registration"]},
        ),
    ]
    for component, values, outputs in steps:
        line = command_line(component, values, outputs)
        result = subprocess.run(
            ["bash", "-c", line], env=env, cwd=work, capture_output=True, text=True, timeout=900, check=False
        )
        assert result.returncode == 0, f"{component.name}: {line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    settings = load_settings(stack=stack.model_dump(), mlflow={"model_name": MODEL, "experiment": MODEL})
    registration = json.loads((folders["registration"] / "registration.json").read_text())
    return StageRun(settings, folders, registration)


def test_the_stages_register_a_gated_candidate_with_its_reason(stage_run: StageRun) -> None:
    registry = Registry(stage_run.settings)
    candidate = registry.get(CANDIDATE)
    assert candidate.version == stage_run.registration["version"]
    assert candidate.tags["trigger"] == "drift alert 42: psi 0.31"
    assert candidate.tags["git.commit"] == "0123abc" and candidate.tags["dataset.version"].startswith("ds-")
    meta = json.loads((registry.download(candidate) / "package.json").read_text())
    assert meta["lineage"]["run_id"] == candidate.run_id and meta["lineage"]["git_commit"] == "0123abc"
    assert candidate.tags["gate.passed"] in ("true", "false") and "gate.summary" in candidate.tags
    assert candidate.run_id
    run = registry.client.get_run(candidate.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test.f1"] == pytest.approx(float(candidate.tags["test.f1"]), abs=1e-4)
    evaluation = json.loads((stage_run.folders["evaluation"] / "evaluation.json").read_text())
    checks = [c for c in evaluation["gate_checks"] if c["name"].endswith(("vs fp32", "batch invariance"))]
    assert checks and all(check["passed"] for check in checks), checks
    # the feedback labels were merged into the prepared data
    prepared = next(p for p in stage_run.folders["prepared"].iterdir() if p.is_dir() and p.name.startswith("ds-"))
    texts = "".join((prepared / f"{split}.jsonl").read_text() for split in ("train", "validation", "test"))
    assert "the dam has burst and the valley is flooding" in texts


def test_the_scoring_script_serves_the_registered_package(
    stage_run: StageRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(stage_run.settings)
    version = registry.get(CANDIDATE)
    package = registry.download(version)
    model_dir = tmp_path / "azureml-models" / MODEL / version.version
    shutil.copytree(package, model_dir / "package")  # the layout a registered model is mounted with
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "azureml-models"))
    monkeypatch.setenv("TRIAGE_MODEL_VERSION", version.version)
    monkeypatch.setenv(
        "TRIAGE_MLFLOW__TRACKING_URI", stage_run.settings.mlflow_tracking_uri
    )  # as build_deployment sets
    monkeypatch.setenv("TRIAGE_MLFLOW__MODEL_NAME", registry.name)
    monkeypatch.setenv("TRIAGE_SERVING_ROLE", "live")
    with pytest.raises(UnapprovedModel, match=f"refusing to serve v{version.version} on a live slot"):
        score.init()  # a candidate on a live slot: never loaded
    monkeypatch.setenv("TRIAGE_SERVING_ROLE", "mirror")  # what `triage azure deploy` gives a candidate
    score.init()
    tweets = [
        {"id": "a", "text": "Forest fire spreading toward the highway, evacuate now"},
        {"id": "b", "text": "I love this song so much", "keyword": "fire"},
    ]
    response = score.run(json.dumps({"tweets": tweets}))
    expected = Predictor(package, version=version.version).predict(
        [t["text"] for t in tweets], [t.get("keyword") for t in tweets]
    )
    assert [p["id"] for p in response["predictions"]] == ["a", "b"]
    for got, want in zip(response["predictions"], expected, strict=True):
        assert got["label"] == want.label and got["model_version"] == version.version
        assert got["confidence"] == pytest.approx(want.confidence, abs=1e-5)
    assert "error" in score.run('{"tweets": []}')
    promote(
        registry,
        ApprovalLog.beside(registry),
        version=version.version,
        approver="tests",
        reason="r",
        override_reason="q",
    )
    monkeypatch.setenv("TRIAGE_SERVING_ROLE", "live")
    score.init()  # approved: a live slot may serve it


def test_both_training_paths_give_the_same_tags_checks_and_package_layout(
    stage_run: StageRun, first_candidate: PipelineResult, registry: Registry, tmp_path: Path
) -> None:
    """`triage train` (one process) and the Azure ML stages (one job each) on the same tiny profile: the same
    version tags, run tags, parameters, metrics, gate checks, run artifacts and package files; only the values that
    name the data, the run or the measurements differ."""
    stages_registry = Registry(stage_run.settings)
    by_stages = stages_registry.get(stage_run.registration["version"])
    by_train = registry.get(first_candidate.version.version)
    assert set(by_stages.tags) == set(by_train.tags)
    assert by_stages.tags["operating_point.policy"] == by_train.tags["operating_point.policy"]
    assert by_stages.gate is not None and by_train.gate is not None
    stages_view = run_view(stages_registry, by_stages.run_id or "", tmp_path / "stages")
    train_view = run_view(registry, by_train.run_id or "", tmp_path / "train")
    assert stages_view == train_view
    assert package_layout(stages_registry.download(by_stages)) == package_layout(registry.download(by_train))


@dataclass(frozen=True)
class RunView:
    tags: set[str]
    params: set[str]
    metrics: set[str]  # without the per-graph ones (each run may ship other graphs)
    gate_checks: list[str]  # graph names left out, each kind once (each run may ship one or two graphs)
    artifacts: set[str]


def run_view(reg: Registry, run_id: str, scratch: Path) -> RunView:
    run = reg.client.get_run(run_id)
    scratch.mkdir()
    report = Path(reg.client.download_artifacts(run_id, "gate/gate_report.json", str(scratch)))
    checks = json.loads(report.read_text())["checks"]
    return RunView(
        set(run.data.tags) - {"mlflow.runName"},
        set(run.data.params),
        {m for m in run.data.metrics if not m.startswith(("quantization.", "graph."))},
        list(dict.fromkeys(strip_graph(check["name"]) for check in checks)),
        artifact_tree(reg, run_id),
    )


def strip_graph(check: str) -> str:
    """A check's name without the graph it is about."""
    for suffix in (" vs fp32", " batch invariance"):
        if check.endswith(suffix):
            return "graph" + suffix
    return check


def artifact_tree(reg: Registry, run_id: str, path: str | None = None) -> set[str]:
    """Every artifact path of the run, the model folders as one entry each."""
    found: set[str] = set()
    for item in reg.client.list_artifacts(run_id, path):
        if item.is_dir and item.path not in ("model_package", "hf_model"):
            found |= artifact_tree(reg, run_id, item.path)
        else:
            found.add(item.path)
    return found


def package_layout(folder: Path) -> tuple[set[str], set[str]]:
    """The package's files (graph files as one kind, whatever their names) and the keys of its package.json."""
    meta = json.loads((folder / "package.json").read_text())
    graphs = {g["file"] for g in meta["graphs"]}
    files = {
        "<graph>" if str(p.relative_to(folder)) in graphs else str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file()
    }
    return files, set(meta)
