"""The training pipeline against the real MLflow server: registration, predictor, quality checks, lineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import package_dir
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
    assert {"data", "environment", "figures", "evaluation", "gate", "model_package"} <= artifacts


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


def test_int8_stays_close_to_fp32_and_is_batch_invariant(
    first_candidate: PipelineResult, registry: Registry, kaggle_dataset: PreparedDataset
) -> None:
    assert first_candidate.quantization.f1_drop <= 0.01
    assert first_candidate.invariance.max_difference <= 1e-3
    predictor = Predictor(package_dir(registry, first_candidate.version.version), version="x")
    texts = [e.text for e in kaggle_dataset.splits["test"][:64]]
    alone = np.vstack([predictor.score([t]).probabilities for t in texts])
    together = predictor.score(texts, sort_by_length=False).probabilities
    assert float(np.abs(alone - together).max()) <= 1e-3


def test_predictor_output_matches_the_schema(first_candidate: PipelineResult, registry: Registry) -> None:
    version = first_candidate.version.version
    predictor = Predictor(package_dir(registry, version), version=version)
    [result] = predictor.predict(["Forest fire near La Ronge Sask. Canada"], ["wildfire"], with_embeddings=True)
    data = result.to_dict()
    assert set(data) == {"label", "confidence", "probabilities", "model_version"}
    assert data["label"] in predictor.labels and data["model_version"] == version
    assert abs(sum(data["probabilities"].values()) - 1) < 1e-4
    assert data["confidence"] == max(data["probabilities"].values())
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
