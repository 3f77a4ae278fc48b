"""The monitor process against the real broker, Cosmos DB server and MLflow: drift incidents, accuracy alerts,
webhook delivery, retraining requests and state that survives a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_until
from tests.integration.conftest import package_dir
from tests.integration.worker.conftest import StreamEnv, StreamModels, production_version
from tweet_triage.model.package import PackageMeta
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.evaluation import documentation_sentences, scored_events
from tweet_triage.monitoring.feedback_store import FeedbackStore
from tweet_triage.settings import Settings
from tweet_triage.stream.feedback import FeedbackEvent
from tweet_triage.stream.store.cosmos import PREDICTIONS, open_container
from tweet_triage.stream.store.records import PredictionRecord
from tweet_triage.stream.timestamps import utc_now
from tweet_triage.stream.topics import ensure_topics
from tweet_triage.training.prepare import PreparedDataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPLAY = 300  # tweets per replay: far below the ERT, far above the detection delay


class Webhook:
    """A local receiver that records every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[str]:
        return [str(body["alert"]["kind"]) for body in self.bodies]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.server.shutdown()


def monitor_env(state_dir: Path, webhook: Webhook, **extra: str) -> dict[str, str]:
    return {
        "TRIAGE_MONITOR__ERT": "5000",
        "TRIAGE_MONITOR__WINDOW_SIZE": "20",
        "TRIAGE_MONITOR__OUTPUT_WINDOW_SIZE": "30",
        "TRIAGE_MONITOR__N_BOOTSTRAPS": "50000",
        "TRIAGE_MONITOR__OUTPUT_N_BOOTSTRAPS": "10000",
        "TRIAGE_MONITOR__CONFIRM_UPDATES": "5",
        "TRIAGE_MONITOR__STATE_DIR": str(state_dir),
        "TRIAGE_MONITOR__SAVE_EVERY_S": "1",
        "TRIAGE_MONITOR__MODEL_POLL_S": "1",
        "TRIAGE_MONITOR__CONSUMER_GROUP": f"monitor-{state_dir.name}",
        "TRIAGE_ALERTS__WEBHOOK_URL": webhook.url,
        "TRIAGE_RETRAIN__BACKEND": "record-only",
        **extra,
    }


def alerts(settings: Settings, kind: str) -> list[Alert]:
    try:
        with AlertStore.open(settings) as store:
            return store.recent(kind=kind, status=None, limit=100)  # type: ignore[arg-type]
    except Exception:
        return []


def observed(env: StreamEnv, port: int) -> int:
    return int(str(env.health(port).get("observed", 0) or 0))


def stop(proc: Any) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def test_a_shifted_replay_is_one_incident_an_unshifted_one_none_and_state_survives_a_restart(
    stream_env: StreamEnv,
    stream_models: StreamModels,
    kaggle_dataset: PreparedDataset,
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    env, settings = stream_env, stream_env.settings
    scored_topic = settings.kafka.topic_scored
    asyncio.run(ensure_topics(settings, names=[scored_topic], partitions=1))  # one partition: a fixed replay order
    version = production_version(settings)
    predictor = Predictor(package_dir(Registry(settings), version), version=version)
    tweets = kaggle_dataset.splits["test"][:REPLAY]
    calm = scored_events(
        predictor, [t.text for t in tweets], keywords=[t.keyword for t in tweets], model_version=version, id_prefix="c"
    )
    shifted = scored_events(predictor, documentation_sentences(REPLAY), model_version=version, id_prefix="s")
    assert len(shifted) == REPLAY

    monitor = env.start_monitor(**monitor_env(tmp_path / "monitor", webhook))
    port = env.ports[-1]
    env.publish([(e.key, e.to_json()) for e in calm], topic=scored_topic)
    wait_until(lambda: observed(env, port) >= REPLAY, timeout_s=120, what="the unshifted replay to be observed")
    assert alerts(settings, "drift") == [], "in-distribution tweets raised a drift alert"
    assert webhook.bodies == []

    env.publish([(e.key, e.to_json()) for e in shifted], topic=scored_topic)
    wait_until(lambda: observed(env, port) >= 2 * REPLAY, timeout_s=120, what="the shifted replay to be observed")
    [incident] = wait_until(lambda: alerts(settings, "drift"), timeout_s=30, what="a drift alert")
    [retrain] = wait_until(lambda: alerts(settings, "retrain"), timeout_s=30, what="a retraining request")
    assert incident.model_version == version
    assert incident.statistic is not None and incident.threshold is not None
    assert incident.statistic > incident.threshold
    assert incident.evidence[0].observed is not None and incident.evidence[0].observed > REPLAY
    assert incident.delivery.status == "delivered"
    assert webhook.kinds().count("drift") == 1
    assert retrain.details["trigger"] == "drift"
    assert retrain.details["caused_by"] == incident.id
    assert retrain.details["backend"] == "record-only"

    stop(monitor)
    env.start_monitor(**monitor_env(tmp_path / "monitor", webhook))
    health = env.health(env.ports[-1])
    assert health["restored_state"] is True
    assert int(str(health["observed"])) >= 2 * REPLAY
    assert len(alerts(settings, "drift")) == 1


def test_feedback_that_contradicts_predictions_raises_an_accuracy_alert(
    stream_env: StreamEnv, stream_models: StreamModels, webhook: Webhook, tmp_path: Path
) -> None:
    env, settings = stream_env, stream_env.settings
    version = production_version(settings)
    predicted, truth = PackageMeta.read(package_dir(Registry(settings), version)).labels[:2]
    ids = [f"fb-{i}" for i in range(25)]
    with open_container(settings, PREDICTIONS, create=True) as container:
        for tweet_id in ids:
            record = PredictionRecord(
                id=tweet_id,
                label=predicted,
                confidence=0.9,
                probabilities={predicted: 0.9, truth: 0.1},
                model_name=settings.mlflow.model_name,
                model_version=version,
                scored_at=utc_now(),
                text=f"tweet {tweet_id} about the flood",
            )
            container.upsert_item(record.to_item())
    env.start_monitor(
        **monitor_env(
            tmp_path / "monitor",
            webhook,
            TRIAGE_MONITOR__ACCURACY_MIN_FEEDBACK="20",
            TRIAGE_MONITOR__ACCURACY_THRESHOLD="0.7",
        )
    )
    feedback = [FeedbackEvent(tweet_id=i, label=truth, annotator="coordinator-1", labelled_at=utc_now()) for i in ids]
    env.publish([(b"bad", b"{not json")], topic=settings.kafka.topic_feedback)
    env.publish([(f.key, f.to_json()) for f in feedback], topic=settings.kafka.topic_feedback)

    [alert] = wait_until(lambda: alerts(settings, "accuracy"), timeout_s=120, what="an accuracy alert")
    assert alert.model_version == version
    assert alert.statistic == 0.0
    assert alert.severity == "critical"
    with FeedbackStore.open(settings) as store:
        stored = wait_until(
            lambda: list(store.iter_all()) if len(list(store.iter_all())) == 25 else [],
            timeout_s=30,
            what="all feedback stored",
        )
    assert all(item.correct is False and item.predicted_version == version for item in stored)
    [letter] = env.dead_letters(1)
    assert letter["reason"] == "invalid_event"
    assert letter["topic"] == settings.kafka.topic_feedback
    assert "accuracy" in webhook.kinds()
