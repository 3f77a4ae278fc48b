"""The monitor process against the real broker, Cosmos DB server and MLflow: drift incidents, accuracy alerts,
webhook delivery, retraining requests and state that survives a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import prediction, wait_until
from tests.integration.conftest import package_dir
from tests.integration.worker.conftest import StreamEnv, StreamModels, production_version
from tests.shared import shared_dir
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.clock import utc_now
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.errors import ContainerMissing
from tweet_triage.model.package import PackageMeta
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft, Delivery
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.evaluation import documentation_sentences, scored_events
from tweet_triage.monitoring.feedback_store import FeedbackStore
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import PREDICTIONS, open_container
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


@pytest.fixture(scope="session")
def thresholds() -> Path:
    """One threshold cache for the run's monitors: the detectors are calibrated once (about a minute), not per test;
    each test keeps its own detector state."""
    path = shared_dir() / "thresholds"
    path.mkdir(exist_ok=True)
    return path


def monitor_env(state_dir: Path, webhook: Webhook, thresholds: Path, **extra: str) -> dict[str, str]:
    return {
        "TRIAGE_MONITOR__THRESHOLDS_DIR": str(thresholds),
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
    """The alerts of ``kind``; none while the monitor has not created the container yet (any other error fails the
    test: "no alert" must not hide a store that cannot be read)."""
    try:
        with AlertStore.open(settings) as store:
            return store.recent(kind=kind, status=None, limit=100)  # type: ignore[arg-type]
    except ContainerMissing:
        return []


ACCURACY = {"TRIAGE_MONITOR__ACCURACY_MIN_FEEDBACK": "20", "TRIAGE_MONITOR__ACCURACY_THRESHOLD": "0.7"}


def predicted_tweets(settings: Settings, prefix: str, n: int) -> tuple[list[str], str, str]:
    """``n`` tweets the production version labelled with its first label; returns their ids, the version and the
    label people will say is right instead (so feedback on them can be judged wrong)."""
    version = production_version(settings)
    predicted, truth = PackageMeta.read(package_dir(Registry(settings), version)).labels[:2]
    ids = [f"{prefix}-{i}" for i in range(n)]
    with open_container(settings, PREDICTIONS, create=True) as container:
        for tweet_id in ids:
            record = prediction(
                tweet_id,
                label=predicted,
                other=truth,
                model_name=settings.mlflow.model_name,
                model_version=version,
                scored_at=utc_now(),
                text=f"tweet {tweet_id} about the flood",
            )
            container.upsert_item(record.to_item())
    return ids, version, truth


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
    thresholds: Path,
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

    monitor = env.start_monitor(**monitor_env(tmp_path / "monitor", webhook, thresholds))
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
    env.start_monitor(**monitor_env(tmp_path / "monitor", webhook, thresholds))
    health = env.health(env.ports[-1])
    assert health["restored_state"] is True
    assert int(str(health["observed"])) >= 2 * REPLAY
    assert len(alerts(settings, "drift")) == 1


def test_feedback_that_contradicts_predictions_raises_an_accuracy_alert(
    stream_env: StreamEnv, stream_models: StreamModels, webhook: Webhook, thresholds: Path, tmp_path: Path
) -> None:
    env, settings = stream_env, stream_env.settings
    ids, version, truth = predicted_tweets(settings, "fb", 25)
    env.start_monitor(**monitor_env(tmp_path / "monitor", webhook, thresholds, **ACCURACY))
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


def test_repeated_feedback_from_one_annotator_counts_once(
    stream_env: StreamEnv, stream_models: StreamModels, webhook: Webhook, thresholds: Path, tmp_path: Path
) -> None:
    env, settings = stream_env, stream_env.settings
    ids, _, truth = predicted_tweets(settings, "rep", 20)
    env.start_monitor(**monitor_env(tmp_path / "monitor", webhook, thresholds, **ACCURACY))
    port = env.ports[-1]
    topic = settings.kafka.topic_feedback

    # One person clicks "wrong" on one tweet 30 times, and the broker re-delivers the first click twice more.
    clicks = [
        FeedbackEvent(tweet_id=ids[0], label=truth, annotator="coordinator-1", labelled_at=utc_now()) for _ in range(30)
    ]
    env.publish([(f.key, f.to_json()) for f in [*clicks, clicks[0], clicks[0]]], topic=topic)
    wait_until(
        lambda: env.metric(port, "triage_monitor_feedback_total") >= len(clicks) + 2,
        timeout_s=120,
        what="every click handled",
    )
    with FeedbackStore.open(settings) as store:
        assert len(list(store.iter_all())) == 1
    assert alerts(settings, "accuracy") == [], "32 clicks by one person on one tweet are one label, not 32"

    # 19 more tweets judged wrong by the same person: now 20 distinct labels, the alert fires on exactly those.
    more = [FeedbackEvent(tweet_id=i, label=truth, annotator="coordinator-1", labelled_at=utc_now()) for i in ids[1:]]
    env.publish([(f.key, f.to_json()) for f in more], topic=topic)
    [alert] = wait_until(lambda: alerts(settings, "accuracy"), timeout_s=120, what="an accuracy alert")
    assert alert.window == 20 and alert.statistic == 0.0
    assert env.metric(port, 'triage_monitor_feedback_total{outcome="repeat"}') >= len(clicks) + 1


def test_an_alert_a_crash_left_undelivered_is_sent_when_the_monitor_starts(
    stream_env: StreamEnv, stream_models: StreamModels, webhook: Webhook, thresholds: Path, tmp_path: Path
) -> None:
    env, settings = stream_env, stream_env.settings
    now = utc_now()
    draft = AlertDraft(kind="drift", severity="warning", title="Drift: left behind", summary="s", model_version="1")
    crashed = draft.to_alert(now - timedelta(minutes=10)).model_copy(
        update={"delivery": Delivery(status="pending", next_attempt_at=now - timedelta(minutes=8))}
    )
    with AlertStore.open(settings, create=True) as store:
        store.save(crashed)  # what a monitor killed between storing the alert and posting it leaves behind
    env.start_monitor(**monitor_env(tmp_path / "monitor", webhook, thresholds))
    wait_until(lambda: "drift" in webhook.kinds(), timeout_s=120, what="the pending alert to be posted")
    assert [body["alert"]["id"] for body in webhook.bodies] == [crashed.id]

    def stored_delivered() -> Alert | None:
        with AlertStore.open(settings) as store:
            alert = store.get(crashed.id)
        return alert if alert.delivery.status == "delivered" else None

    delivered = wait_until(stored_delivered, timeout_s=30, what="the delivery to be recorded")
    assert delivered is not None and delivered.delivery.attempts == 1 and delivered.title == crashed.title


def test_feedback_the_store_cannot_hold_is_dead_lettered_and_the_partition_goes_on(
    stream_env: StreamEnv, stream_models: StreamModels, webhook: Webhook, thresholds: Path, tmp_path: Path
) -> None:
    env, settings = stream_env, stream_env.settings
    asyncio.run(ensure_topics(settings, names=[settings.kafka.topic_feedback], partitions=1))  # one partition
    env.start_monitor(**monitor_env(tmp_path / "monitor", webhook, thresholds))
    bad_ids = ["a/b", "x" * 10_000, "\u200b"]
    hostile = [
        (
            b"k",
            json.dumps(
                {"tweet_id": t, "label": "disaster", "annotator": "ana", "labelled_at": "2026-11-26T12:00:00Z"}
            ).encode(),
        )
        for t in bad_ids
    ]
    good = FeedbackEvent(tweet_id="after-the-bad-ones", label="disaster", annotator="ana", labelled_at=utc_now())
    env.publish([*hostile, (good.key, good.to_json())], topic=settings.kafka.topic_feedback)
    with FeedbackStore.open(settings, create=True) as store:
        wait_until(lambda: [r.tweet_id for r in store.iter_all()] == [good.tweet_id], timeout_s=120, what="stored")
    letters = [letter for letter in env.all_dead_letters() if letter.topic == settings.kafka.topic_feedback]
    assert len(letters) == len(bad_ids) and all("tweet_id" in letter.message for letter in letters)
