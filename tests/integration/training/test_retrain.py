"""`triage retrain` with the local backend on the real stack: base data + feedback -> a new candidate with a
comparison report and an approval alert; production stays where it was."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import register_copies
from tweet_triage.clock import utc_now
from tweet_triage.model.registry import CANDIDATE, PRODUCTION, Registry
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.feedback_store import FeedbackRecord, FeedbackStore
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.pipeline import PipelineResult
from tweet_triage.training.prepare import PreparedDataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIAGE = str(Path(sys.executable).with_name("triage"))
MODEL = "tweet-triage-retrain-test"


def test_local_retraining_registers_a_candidate_with_a_comparison_and_leaves_production_alone(
    training_settings: Settings,
    first_candidate: PipelineResult,
    registry: Registry,
    kaggle_dataset: PreparedDataset,
) -> None:
    production_before, _ = register_copies(first_candidate, registry, training_settings, MODEL)
    database = f"retrain-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        stack=training_settings.stack.model_dump(),
        data=training_settings.data.model_dump(),
        mlflow={"model_name": MODEL, "experiment": MODEL},
        cosmos={"database": database},
    )
    labels = kaggle_dataset.labels
    new_tweets = [
        ("fb-new-1", "Bridge on route 9 has collapsed, cars in the river, send boats", labels[0]),
        ("fb-new-2", "this new album is straight fire, the whole city is burning it up", labels[1]),
    ]
    with FeedbackStore.open(settings, create=True) as store:
        for tweet_id, text, label in new_tweets:
            store.save(
                FeedbackRecord(
                    tweet_id=tweet_id,
                    label=label,
                    annotator="coordinator-1",
                    labelled_at=utc_now(),
                    text=text,
                    received_at=utc_now(),
                )
            )
    stack = settings.stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")} | {
        "TRIAGE_STACK__STATE_DIR": str(stack.state_dir),
        "TRIAGE_STACK__KAFKA_PORT": str(stack.kafka_port),
        "TRIAGE_STACK__COSMOS_PORT": str(stack.cosmos_port),
        "TRIAGE_STACK__MLFLOW_PORT": str(stack.mlflow_port),
        "TRIAGE_DATA__DATA_DIR": str(settings.data.data_dir),
        "TRIAGE_MLFLOW__MODEL_NAME": MODEL,
        "TRIAGE_MLFLOW__EXPERIMENT": MODEL,
        "TRIAGE_COSMOS__DATABASE": database,
        "TRIAGE_RETRAIN__EPOCHS": "1",
        "TRIAGE_RETRAIN__MAX_SAMPLES": "200",
        "TRIAGE_RETRAIN__THREADS": "2",  # both cores: the test runs alone (the default, 1, leaves one to triage)
    }
    done = subprocess.run(
        [TRIAGE, "retrain", "--reason", "coordinators report misses", "--by", "on-call"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "production is unchanged" in done.stdout

    target = Registry(settings)
    candidate = target.get(CANDIDATE)
    assert target.get(PRODUCTION).version == production_before
    assert candidate.version not in (production_before, _)
    merged_version = candidate.tags["dataset.version"]
    assert merged_version != kaggle_dataset.version, "feedback must give the training data a new version"
    with AlertStore.open(settings) as alerts:
        [request] = alerts.recent(kind="retrain", status=None)
        [approval] = alerts.recent(kind="approval", status=None)
    assert request.details["status"] == "succeeded"
    assert request.details["candidate_version"] == candidate.version
    assert request.details["trigger"] == "manual" and request.details["requested_by"] == "on-call"
    assert approval.model_version == candidate.version
    assert f"triage model promote {candidate.version}" in approval.summary
    report = Path(approval.details["report"]).read_text()
    assert f"candidate v{candidate.version}" in report
    assert "2 feedback tweets added" in report

    again = subprocess.run(
        [TRIAGE, "retrain", "--reason", "once more"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 2
    assert "refused by the policy" in again.stderr and "minimum interval" in again.stderr
