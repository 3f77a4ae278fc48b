"""Helpers for the API and dashboard integration tests: isolated settings, server processes, seeded predictions,
and reading the feedback topic back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import free_port
from tests.helpers import wait_until
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.clock import utc_now
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.model.operating_point import OperatingPoint, decisions
from tweet_triage.model.places import gazetteer
from tweet_triage.settings import Settings, load_settings
from tweet_triage.store.cosmos import PREDICTIONS, container_specs, ensure_schema, open_client
from tweet_triage.store.records import PredictionRecord
from tweet_triage.stream.stories import story_id

TRIAGE = str(Path(sys.executable).with_name("triage"))
API_KEY = "integration-key-7f3a9c"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class ServingEnv:
    """Settings and environment variables of one test: its own topics, Cosmos database and model name."""

    settings: Settings
    env: dict[str, str]
    servers: list[Server] = field(default_factory=list)

    @classmethod
    def create(cls, stack_settings: Settings, model_name: str, **env_extra: str) -> ServingEnv:
        tag = uuid.uuid4().hex[:8]
        stack = stack_settings.stack
        variables = {
            "TRIAGE_STACK__STATE_DIR": str(stack.state_dir),
            "TRIAGE_STACK__KAFKA_PORT": str(stack.kafka_port),
            "TRIAGE_STACK__COSMOS_PORT": str(stack.cosmos_port),
            "TRIAGE_STACK__MLFLOW_PORT": str(stack.mlflow_port),
            "TRIAGE_MLFLOW__MODEL_NAME": model_name,
            "TRIAGE_KAFKA__TOPIC_FEEDBACK": f"feedback-{tag}",
            "TRIAGE_COSMOS__DATABASE": f"db-{tag}",
            "TRIAGE_API__KEYS": API_KEY,
            "TRIAGE_API__MODEL_POLL_S": "0.5",
            "TRIAGE_API__PORT": str(free_port()),
            "TRIAGE_DASHBOARD__API_KEY": API_KEY,
            "TRIAGE_DASHBOARD__PORT": str(free_port()),
            **env_extra,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")} | variables
        settings = load_settings(
            stack=stack.model_dump(),
            mlflow={"model_name": model_name},
            kafka={"topic_feedback": f"feedback-{tag}"},
            cosmos={"database": f"db-{tag}"},
            api={"keys": API_KEY, "model_poll_s": 0.5, "port": int(variables["TRIAGE_API__PORT"])},
            dashboard={"api_key": API_KEY, "port": int(variables["TRIAGE_DASHBOARD__PORT"])},
        )
        asyncio.run(ensure_topics(settings, names=[settings.kafka.topic_feedback], partitions=1))
        return cls(settings, env)

    def start(self, name: str, argv: Sequence[str], ready_url: str, *, timeout_s: float = 120) -> Server:
        log = Path(self.env["TRIAGE_STACK__STATE_DIR"]) / f"{name}-{uuid.uuid4().hex[:6]}.log"
        proc = subprocess.Popen(
            list(argv), env=self.env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        server = Server(ready_url.rsplit("/", 1)[0], proc, log)
        self.servers.append(server)
        wait_until(lambda: _ok(ready_url) or proc.poll() is not None, timeout_s=timeout_s, what=f"{name} to be ready")
        assert proc.poll() is None, log.read_text()[-3000:]
        return server

    def start_api(self, *extra: str) -> Server:
        url = self.settings.api_url
        return self.start("api", [TRIAGE, "api", *extra], f"{url}/readyz")

    def start_dashboard(self) -> Server:
        url = f"http://127.0.0.1:{self.settings.dashboard.port}"
        return self.start("dashboard", [TRIAGE, "dashboard"], f"{url}/_stcore/health")

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def seed(self, records: Sequence[PredictionRecord]) -> None:
        client = open_client(self.settings)
        try:
            database = ensure_schema(client, self.settings)
            container = database.get_container_client(container_specs(self.settings.cosmos)[PREDICTIONS].name)
            for record in records:
                container.upsert_item(record.to_item())
        finally:
            client.close()

    def feedback_events(self, count: int, timeout_s: float = 30) -> list[FeedbackEvent]:
        async def read() -> list[FeedbackEvent]:
            consumer = AIOKafkaConsumer(
                self.settings.kafka.topic_feedback,
                bootstrap_servers=self.settings.kafka_bootstrap,
                auto_offset_reset="earliest",
                group_id=f"feedback-reader-{uuid.uuid4().hex[:6]}",
            )
            await consumer.start()
            events: list[FeedbackEvent] = []
            try:
                async with asyncio.timeout(timeout_s):
                    while len(events) < count:
                        batch = await consumer.getmany(timeout_ms=500)
                        events += [FeedbackEvent.from_json(m.value) for msgs in batch.values() for m in msgs]
            finally:
                await consumer.stop()
            return events

        return asyncio.run(read())


def seeded_records(model_version: str, texts: Sequence[tuple[str, str, str, float]]) -> list[PredictionRecord]:
    """Prediction records (id, text, label, confidence), scored a second apart, the last one newest."""
    now = utc_now()
    records = []
    for age, (tweet_id, text, label, confidence) in enumerate(reversed(texts)):
        other = "not_disaster" if label == "disaster" else "disaster"
        records.append(
            PredictionRecord(
                id=tweet_id,
                label=label,
                confidence=confidence,
                probabilities={label: confidence, other: round(1 - confidence, 6)},
                model_name="tweet-triage",
                model_version=model_version,
                scored_at=now - timedelta(seconds=age),
                text=text,
                keyword=None,
            )
        )
    return records


def triaged_records(
    model_version: str, tweets: Sequence[tuple[str, str, str | None, float]], *, threshold: float
) -> list[PredictionRecord]:
    """Records as the stream worker makes them, from (id, text, location, p(disaster)), scored a second apart, the
    last one newest: labels and margins at ``threshold``, story ids, places."""
    labels = ["not_disaster", "disaster"]
    point = OperatingPoint("f2", "disaster", threshold, 0.7, 0.85, 0.77, 0.81, 100)
    now = utc_now()
    records = []
    for age, (tweet_id, text, location, p) in enumerate(reversed(tweets)):
        [decision] = decisions(np.array([[1 - p, p]]), labels, point)
        records.append(
            PredictionRecord.from_scoring(
                TweetEvent(id=tweet_id, text=text, location=location),
                label=decision.label,
                confidence=decision.confidence,
                probabilities={"not_disaster": round(1 - p, 6), "disaster": p},
                model_name="tweet-triage",
                model_version=model_version,
                scored_at=now - timedelta(seconds=age),
                decision=decision,
                story_id=story_id(text),
                place=gazetteer().resolve(text, location),
            )
        )
    return records


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def api_over(stack_settings: Settings, model_name: str) -> Iterator[tuple[ServingEnv, Server]]:
    """`triage api` over ``model_name`` in its own environment, stopped at the end."""
    env = ServingEnv.create(stack_settings, model_name)
    try:
        yield env, env.start_api()
    finally:
        env.stop_all()


@pytest.fixture
def serving(local_stack: Settings, serving_model: str) -> Iterator[ServingEnv]:
    """Isolated settings (own feedback topic and Cosmos database) over the session's serving model."""
    env = ServingEnv.create(local_stack, serving_model)
    try:
        yield env
    finally:
        env.stop_all()


@pytest.fixture
def api_server(serving: ServingEnv) -> Server:
    """`triage api` as its own process, ready (model loaded)."""
    return serving.start_api()
