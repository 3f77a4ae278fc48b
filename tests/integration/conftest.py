"""One quick-profile training run per test run (shared by every pytest-xdist worker, see tests/shared.py), on the
real Kaggle file from the data mirror."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import DATA_MIRROR
from tests.shared import once, shared_dir
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.registry import Registry
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.datasets import DISASTER_TWEETS, pull
from tweet_triage.training.finetune import TrainConfig
from tweet_triage.training.pipeline import PipelineConfig, PipelineResult, run_pipeline
from tweet_triage.training.prepare import PreparedDataset, prepare, write
from tweet_triage.training.promotion import promote
from tweet_triage.training.quantization.rule import QuantizationRule
from tweet_triage.training.quantization.study import quick_study

SERVING_MODEL = "tweet-triage-serving-test"
# The test model trains for 20 steps: many of its probabilities sit near the threshold, so one label flipped by int8
# arithmetic moves its F1 on 300 test tweets by about 0.003, and which int8 graph the study picks depends on the
# CPU's timings. The suite tests the pipeline's plumbing, the same on every CPU; the production rule itself is tested
# in tests/unit/training/quantization. So the test model gets a looser accuracy rule (batch invariance stays exact).
TEST_RULE = QuantizationRule(max_f1_drop=0.05, min_agreement=0.9)
QUICK = PipelineConfig(
    train=TrainConfig(epochs=1, max_samples=300, max_steps=20, batch_size=16),
    study=replace(quick_study(), rule=TEST_RULE),
)


@pytest.fixture(scope="session")
def training_settings(local_stack: Settings) -> Settings:
    data_dir = shared_dir() / "data"
    return load_settings(
        stack=local_stack.stack.model_dump(),
        data={"data_dir": data_dir, "mirror_dir": DATA_MIRROR},
        mlflow={"model_name": "tweet-triage-test", "experiment": "tweet-triage-test"},
    )


@pytest.fixture(scope="session")
def kaggle_dataset(training_settings: Settings) -> PreparedDataset:
    data = training_settings.data

    def pull_and_prepare() -> PreparedDataset:
        [csv] = pull(DISASTER_TWEETS, data_dir=data.data_dir, mirror_dir=data.mirror_dir)
        return write(prepare(csv, DISASTER_TWEETS.prepare_options(), "test"), data.data_dir / "prepared")

    return once("kaggle-dataset", pull_and_prepare)


@pytest.fixture(scope="session")
def registry(training_settings: Settings) -> Registry:
    return Registry(training_settings)


@pytest.fixture(scope="session")
def first_candidate(training_settings: Settings, kaggle_dataset: PreparedDataset, registry: Registry) -> PipelineResult:
    return once(
        "first-candidate",
        lambda: run_pipeline(training_settings, kaggle_dataset, QUICK, registry=registry, progress=False),
    )


@pytest.fixture(scope="session")
def serving_model(first_candidate: PipelineResult, registry: Registry, training_settings: Settings) -> str:
    """A model name with one version in production, for the API and dashboard tests (they never move its alias)."""
    once("serving-model", lambda: register_copies(first_candidate, registry, training_settings, SERVING_MODEL, count=1))
    return SERVING_MODEL


@pytest.fixture(scope="session")
def cli_env(training_settings: Settings) -> Iterator[dict[str, str]]:
    stack = training_settings.stack
    yield {
        "TRIAGE_STACK__STATE_DIR": str(stack.state_dir),
        "TRIAGE_STACK__KAFKA_PORT": str(stack.kafka_port),
        "TRIAGE_STACK__COSMOS_PORT": str(stack.cosmos_port),
        "TRIAGE_STACK__MLFLOW_PORT": str(stack.mlflow_port),
        "TRIAGE_MLFLOW__MODEL_NAME": training_settings.mlflow.model_name,
        "TRIAGE_DATA__DATA_DIR": str(training_settings.data.data_dir),
    }


def package_dir(registry: Registry, version: str) -> Path:
    return registry.download(registry.get(version))


def named_registry(training_settings: Settings, model_name: str) -> Registry:
    """The session stack's registry, for a registered model (and experiment) of the caller's own."""
    return Registry(
        load_settings(
            stack=training_settings.stack.model_dump(), mlflow={"model_name": model_name, "experiment": model_name}
        )
    )


def register_copies(
    first_candidate: PipelineResult,
    registry: Registry,
    training_settings: Settings,
    model_name: str,
    *,
    count: int = 2,
    promote_first: bool = True,
) -> list[str]:
    """``count`` versions of the session's quick-profile package registered under ``model_name`` (a name of the
    caller's own, so tests that move its aliases never disturb others), with a failed gate; the first one is promoted
    to production unless ``promote_first`` is false."""
    target = named_registry(training_settings, model_name)
    versions = [target.copy(first_candidate.version, {"gate.passed": "false"}).version for _ in range(count)]
    if promote_first:
        promote(
            target,
            ApprovalLog.beside(target),
            version=versions[0],
            approver="tests",
            reason=f"{model_name} tests",
            override_reason="quick profile",
        )
    return versions
