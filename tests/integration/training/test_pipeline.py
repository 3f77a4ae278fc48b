"""The training pipeline against the real MLflow server: registration, predictor, quality checks, lineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import QUICK, package_dir
from tweet_triage.model.package import DriftReference, PackageMeta
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import CANDIDATE, Registry
from tweet_triage.training.pipeline import PipelineResult
from tweet_triage.training.prepare import PreparedDataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIAGE = str(Path(sys.executable).with_name("triage"))


def test_a_trained_model_registers_as_candidate_with_lineage(
    first_candidate: PipelineResult, registry: Registry, kaggle_dataset: PreparedDataset
) -> None:
    version = registry.get(CANDIDATE)
    assert version.version == first_candidate.version.version
    assert version.tags["dataset.version"] == kaggle_dataset.version
    assert version.tags["git.commit"]
    assert version.tags["gate.passed"] in ("true", "false")
    run = registry.client.get_run(first_candidate.run_id)
    assert run.info.status == "FINISHED"
    for metric in ("test.f1", "test.roc_auc", "test.ece", "int8.label_agreement", "batch_invariance.max_difference"):
        assert metric in run.data.metrics
    artifacts = {a.path for a in registry.client.list_artifacts(first_candidate.run_id)}
    assert {"data", "environment", "figures", "evaluation", "gate", "model_package", "quantization"} <= artifacts


def test_the_quantization_study_is_recorded_in_the_run_the_package_and_the_audit(
    first_candidate: PipelineResult, registry: Registry, cli_env: dict[str, str]
) -> None:
    study = first_candidate.study
    assert study.selection is not None
    run = registry.client.get_run(first_candidate.run_id)
    assert run.data.tags["quantization.chosen"] == study.selection.chosen
    assert run.data.tags["quantization.cpu_model"] == study.cpu.model
    for m in study.measurements:  # one metric per measured cell, for every candidate
        assert f"quantization.{m.name.replace('-', '_')}.tweets_per_second.b32" in run.data.metrics
    meta = PackageMeta.read(package_dir(registry, first_candidate.version.version))
    assert meta.graph_names == study.selection.shipped
    assert meta.built_on["model"] == study.cpu.model
    audit = run_cli(cli_env, "audit", "model", first_candidate.version.version)
    assert audit.returncode == 0, audit.stderr
    recorded = json.loads(audit.stdout)["quantization"]
    assert recorded["chosen"] == study.selection.chosen
    assert recorded["built_on"]["flags"] == list(study.cpu.flags)
    assert {row["name"] for row in recorded["study"]} == {m.name for m in study.measurements}


def test_the_package_carries_model_tokenizer_labels_and_drift_reference(
    first_candidate: PipelineResult, registry: Registry
) -> None:
    folder = package_dir(registry, first_candidate.version.version)
    meta = PackageMeta.read(folder)
    assert meta.labels == ["disaster", "not_disaster"] and meta.positive_label == "disaster"
    assert meta.lineage["run_id"] == first_candidate.run_id
    reference = DriftReference.load(folder)
    assert reference.embeddings.shape[1] == meta.embedding_dim > 0
    assert reference.probabilities.shape == (reference.embeddings.shape[0], 2)


def test_every_shipped_graph_passes_the_quantization_rule_and_is_batch_invariant(
    first_candidate: PipelineResult, registry: Registry, kaggle_dataset: PreparedDataset
) -> None:
    rule = QUICK.study.rule  # the test model's rule (see tests/integration/conftest.py)
    assert first_candidate.shipped, "at least one graph ships"
    for quant, invariance in first_candidate.shipped:
        assert quant.f1_drop <= rule.max_f1_drop and quant.label_agreement >= rule.min_agreement
        assert invariance.max_difference <= rule.max_invariance
    folder = package_dir(registry, first_candidate.version.version)
    texts = [e.text for e in kaggle_dataset.splits["test"][:64]]
    for graph in PackageMeta.read(folder).graph_names:
        predictor = Predictor(folder, version="x", graph=graph)
        alone = np.vstack([predictor.score([t]).probabilities for t in texts])
        together = predictor.score(texts, sort_by_length=False).probabilities
        assert float(np.abs(alone - together).max()) <= rule.max_invariance


def test_the_predictor_serves_the_graph_its_self_check_finds_fastest_here(
    first_candidate: PipelineResult, registry: Registry
) -> None:
    folder = package_dir(registry, first_candidate.version.version)
    predictor = Predictor(folder, version="x")
    meta = PackageMeta.read(folder)
    if len(meta.graphs) == 1:
        assert predictor.graph == meta.graph_names[0] and predictor.host_choice is None
        return
    choice = predictor.host_choice
    assert choice is not None and predictor.graph == choice.chosen
    assert {t.graph for t in choice.trials} == set(meta.graph_names)
    assert all(t.reproduces for t in choice.trials), choice.summary()  # built here: every graph reproduces itself


def test_the_serving_tokenizer_gives_the_ids_transformers_gives(
    first_candidate: PipelineResult, registry: Registry, kaggle_dataset: PreparedDataset
) -> None:
    from transformers import AutoTokenizer

    folder = package_dir(registry, first_candidate.version.version)
    predictor = Predictor(folder, version="x")
    reference = AutoTokenizer.from_pretrained(str(folder / "tokenizer"), local_files_only=True)
    examples = kaggle_dataset.splits["test"][:300]
    raw = [e.text for e in examples] + ["word " * 200]  # the last one is cut at the package's max length
    keywords: list[str | None] = [e.keyword for e in examples] + [None]
    expected = reference(predictor.inputs(raw, keywords), truncation=True, max_length=predictor.meta.max_length)
    assert predictor.token_ids(raw, keywords) == expected["input_ids"]
    assert len(expected["input_ids"][-1]) == predictor.meta.max_length


def test_predictor_output_matches_the_schema(first_candidate: PipelineResult, registry: Registry) -> None:
    version = first_candidate.version.version
    predictor = Predictor(package_dir(registry, version), version=version)
    [result] = predictor.predict(["Forest fire near La Ronge Sask. Canada"], ["wildfire"], with_embeddings=True)
    data = result.to_dict()
    assert set(data) == {
        "label", "confidence", "probabilities", "model_version", "threshold", "operating_point", "language",
        "out_of_scope",
    }  # fmt: skip
    assert data["label"] in predictor.labels and data["model_version"] == version
    assert abs(sum(data["probabilities"].values()) - 1) < 1e-4
    assert data["confidence"] == data["probabilities"][data["label"]]
    assert data["out_of_scope"] is False  # its top language guess may be French (place names); not a sure one
    assert result.embedding is not None and result.embedding.shape == (predictor.meta.embedding_dim,)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    return subprocess.run(
        [TRIAGE, *args],
        capture_output=True,
        text=True,
        env={**clean, **env, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )


def test_predict_cli_prints_one_json_object_per_tweet(
    first_candidate: PipelineResult, cli_env: dict[str, str], tmp_path: Path
) -> None:
    version = first_candidate.version.version
    result = run_cli(cli_env, "predict", "help, we are trapped", "lovely sunny day", "--model", version)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["help, we are trapped", "lovely sunny day"]
    assert all(line["model_version"] == version for line in lines)

    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,fire downtown\n2,nice song\n")
    out = tmp_path / "out.jsonl"
    result = run_cli(
        cli_env, "predict", "--input", str(source), "--text-column", "body", "--output", str(out), "--model", version
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["1", "2"]


def test_the_operating_point_is_chosen_on_validation_and_kept_in_the_package_and_the_run(
    first_candidate: PipelineResult, registry: Registry, kaggle_dataset: PreparedDataset
) -> None:
    version = first_candidate.version.version
    meta = PackageMeta.read(package_dir(registry, version))
    point = meta.point
    assert point is not None and point.policy == "f2" and point.positive_label == kaggle_dataset.positive_label
    assert 0.0 < point.threshold < 1.0 and 0.0 < point.recall <= 1.0
    assert meta.languages == ["en"]
    run = registry.client.get_run(first_candidate.run_id).data
    assert run.params["operating_point"] == "f2"
    assert run.metrics["operating_point.threshold"] == pytest.approx(point.threshold)
    tags = registry.get(version).tags
    assert float(tags["operating_point.threshold"]) == pytest.approx(point.threshold, abs=1e-4)
    assert first_candidate.test.threshold == point.threshold  # test metrics are at the operating point
    artifacts = {a.path for a in registry.client.list_artifacts(first_candidate.run_id, "evaluation")}
    assert {"evaluation/errors.md", "evaluation/errors.json", "evaluation/operating_point.json"} <= artifacts
    figures = {a.path for a in registry.client.list_artifacts(first_candidate.run_id, "figures")}
    assert "figures/precision_recall.png" in figures


def test_the_cli_labels_at_the_packages_operating_point_and_flags_other_languages(
    first_candidate: PipelineResult, registry: Registry, cli_env: dict[str, str], tmp_path: Path
) -> None:
    version = first_candidate.version.version
    predictor = Predictor(package_dir(registry, version), version=version)
    point = predictor.operating_point
    assert point is not None
    texts = ["help, we are trapped", "lovely sunny day", "the bridge collapsed", "my mixtape is fire", "storm"]
    texts.append("Necesitamos ayuda, el agua sube y estamos atrapados en el techo con los niños")
    source = tmp_path / "in.csv"
    source.write_text("text\n" + "\n".join(f'"{t}"' for t in texts) + "\n")
    result = run_cli(cli_env, "predict", "--input", str(source), "--model", version)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    pos = point.positive_label
    for line in lines:
        assert line["threshold"] == point.threshold and line["operating_point"] == "f2"
        assert (line["label"] == pos) == (line["probabilities"][pos] >= point.threshold)
    assert [line["out_of_scope"] for line in lines] == [False] * 5 + [True]
    assert lines[-1]["language"] == "es"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("predict", "--input", "missing.csv", "--model", "1"), "cannot read"),
        (("predict", "--model", "1"), "nothing to score"),
        (("predict", "x", "--model", "999"), "has no version 999"),
        (("model", "promote", "abc", "--approver", "a", "--reason", "r"), "VERSION must be a version number"),
        (("data", "pull", "no-such-dataset"), "unknown dataset 'no-such-dataset'"),
        (("train", "--dataset", "ds-0000"), "is not a prepared dataset"),
    ],
)
def test_bad_cli_input_gets_a_message_not_a_traceback(
    first_candidate: PipelineResult, cli_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = run_cli(cli_env, *args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_predict_cli_rejects_a_csv_without_the_text_column(cli_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,fire\n")
    result = run_cli(cli_env, "predict", "--input", str(source), "--model", "1")
    assert result.returncode == 2
    assert "no column 'text'" in result.stderr
