"""Worker processes against the real local broker, Cosmos DB server and MLflow registry.

Each test gets its own topics, consumer group, Cosmos database and web port, so tests never see each other's data.
The model is the session's quick-profile package, registered under a separate model name with two versions.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import free_port, make_stack_settings
from tests.helpers import wait_until
from tests.integration.conftest import register_copies
from tests.shared import once
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.app.stack.services import COSMOS, build_specs
from tweet_triage.broker.topic_reader import TopicReader, TopicRecord
from tweet_triage.contracts.dead_letters import DeadLetter
from tweet_triage.errors import ContainerMissing
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.settings import Settings, load_settings
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.training.pipeline import PipelineResult

TRIAGE = str(Path(sys.executable).with_name("triage"))
STREAM_MODEL = "tweet-triage-stream-test"


@dataclass(frozen=True)
class StreamModels:
    first: str
    second: str


@pytest.fixture(scope="session")
def stream_models(first_candidate: PipelineResult, registry: Registry, training_settings: Settings) -> StreamModels:
    """Two registered versions of the quick-profile package under their own name; the first in production."""
    return once(
        "stream-models",
        lambda: StreamModels(*register_copies(first_candidate, registry, training_settings, STREAM_MODEL)),
    )


@dataclass(frozen=True)
class Outgoing:
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


@dataclass
class StreamEnv:
    settings: Settings
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        port = free_port()
        args = ["worker", "--web-port", str(port), "--batch-window", "0.1", "--model-poll", "0.5", *extra]
        return self._spawn(args, port, "worker", self.env, timeout_s=90)

    def start_monitor(self, **settings_env: str) -> subprocess.Popen[bytes]:
        """`triage monitor` with these extra TRIAGE_* variables; returns once its detectors are calibrated."""
        port = free_port()
        env = {**self.env, "TRIAGE_MONITOR__WEB_PORT": str(port), **settings_env}
        return self._spawn(["monitor", "--batch-size", "64"], port, "monitor", env, timeout_s=240)

    def _spawn(
        self, args: list[str], port: int, what: str, env: dict[str, str], *, timeout_s: float
    ) -> subprocess.Popen[bytes]:
        log = Path(self.env["TRIAGE_STACK__STATE_DIR"]) / f"{what}-{port}.log"
        proc = subprocess.Popen(
            [TRIAGE, *args],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        self.ports.append(port)
        wait_until(
            lambda: self.health(port).get("status") == "ok" or proc.poll() is not None,
            timeout_s=timeout_s,
            what=f"{what} on port {port} to be ready",
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        return proc

    def health(self, port: int) -> dict[str, object]:
        """The /healthz body of the process on ``port``; empty while it does not answer yet. If that process has
        exited (and was not stopped by the test), fail with the end of its log instead of waiting for it."""
        try:
            return dict(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json())
        except (httpx.HTTPError, ValueError):
            self._check_alive(port)
            return {}

    def _check_alive(self, port: int) -> None:
        if port not in self.ports:
            return
        proc = self.workers[self.ports.index(port)]
        code = proc.poll()
        if code not in (None, 0, -signal.SIGTERM, -signal.SIGKILL):  # not stopped (or killed) on purpose
            log = Path(self.env["TRIAGE_STACK__STATE_DIR"]).glob(f"*-{port}.log")
            tail = "".join(path.read_text(errors="replace")[-3000:] for path in log)
            raise AssertionError(f"the process on port {port} exited with code {code}:\n{tail}")

    def metric(self, port: int, name: str) -> float:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return float("nan")
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
        return sum(values) if values else 0.0

    def publish(self, values: Sequence[tuple[bytes | None, bytes]], *, topic: str | None = None) -> None:
        self.publish_messages([Outgoing(key, value) for key, value in values], topic=topic)

    def publish_messages(self, messages: Sequence[Outgoing], *, topic: str | None = None) -> None:
        """Send messages with any key, headers and broker timestamp (up to 2 MiB each), acknowledged by the broker."""
        target = topic or self.settings.kafka.topic_tweets

        async def send() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap, acks="all", max_request_size=2 * 1024 * 1024
            )
            await producer.start()
            try:
                futures = [
                    await producer.send(
                        target, value=m.value, key=m.key, headers=list(m.headers) or None, timestamp_ms=m.timestamp_ms
                    )
                    for m in messages
                ]
                await asyncio.gather(*futures)
            finally:
                await producer.stop()

        asyncio.run(send())

    def topic_records(self, topic: str) -> list[TopicRecord]:
        """Everything ``topic`` holds now (read once through, no consumer group)."""

        async def read() -> list[TopicRecord]:
            async with TopicReader(self.settings, topic) as reader:
                return [record async for record in reader.records()]

        return asyncio.run(read())

    def all_dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.from_json(r.value) for r in self.topic_records(self.settings.kafka.topic_dlq)]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `triage ARGS` against this test's topics, store and registry."""
        return subprocess.run(
            [TRIAGE, *args],
            env={**self.env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def use_cosmos(self, port: int) -> None:
        """Point this environment (and workers started from now on) at the Cosmos DB server on ``port``."""
        self.env["TRIAGE_STACK__COSMOS_PORT"] = str(port)
        stack = self.settings.stack.model_copy(update={"cosmos_port": port})
        self.settings = self.settings.model_copy(update={"stack": stack})

    def publish_tweets(self, ids: Sequence[str], text: str = "flood water rising near the bridge") -> None:
        self.publish([(i.encode(), json.dumps({"id": i, "text": f"{text} #{i}"}).encode()) for i in ids])

    def stored(self) -> list[PredictionRecord]:
        """Every stored prediction; none while the worker has not created the container yet (any other error fails
        the test: "nothing stored" must not hide a store that cannot be read)."""
        try:
            with PredictionReader.open(self.settings) as reader:
                return [PredictionRecord.from_item(item) for item in reader.iter_items()]
        except ContainerMissing:
            return []

    def wait_stored(self, count: int, timeout_s: float = 120) -> list[PredictionRecord]:
        def enough() -> list[PredictionRecord]:
            records = self.stored()
            return records if len(records) >= count else []

        return wait_until(enough, timeout_s=timeout_s, what=f"{count} stored predictions")

    def dead_letters(self, count: int, timeout_s: float = 60) -> list[dict[str, object]]:
        async def read() -> list[dict[str, object]]:
            consumer = AIOKafkaConsumer(
                self.settings.kafka.topic_dlq,
                bootstrap_servers=self.settings.kafka_bootstrap,
                auto_offset_reset="earliest",
                group_id=f"dlq-{uuid.uuid4().hex[:6]}",
            )
            await consumer.start()
            letters: list[dict[str, object]] = []
            try:
                async with asyncio.timeout(timeout_s):
                    while len(letters) < count:
                        batch = await consumer.getmany(timeout_ms=500)
                        letters += [json.loads(m.value) for msgs in batch.values() for m in msgs]
            finally:
                await consumer.stop()
            return letters

        return asyncio.run(read())

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def stream_env(local_stack: Settings, stream_models: StreamModels) -> Iterator[StreamEnv]:
    tag = uuid.uuid4().hex[:8]
    stack = local_stack.stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(
        {
            "TRIAGE_STACK__STATE_DIR": str(stack.state_dir),
            "TRIAGE_STACK__KAFKA_PORT": str(stack.kafka_port),
            "TRIAGE_STACK__COSMOS_PORT": str(stack.cosmos_port),
            "TRIAGE_STACK__MLFLOW_PORT": str(stack.mlflow_port),
            "TRIAGE_MLFLOW__MODEL_NAME": STREAM_MODEL,
            "TRIAGE_KAFKA__TOPIC_TWEETS": f"tweets-{tag}",
            "TRIAGE_KAFKA__TOPIC_SCORED": f"scored-{tag}",
            "TRIAGE_KAFKA__TOPIC_DLQ": f"dlq-{tag}",
            "TRIAGE_KAFKA__TOPIC_FEEDBACK": f"feedback-{tag}",
            "TRIAGE_KAFKA__CONSUMER_GROUP": f"workers-{tag}",
            "TRIAGE_COSMOS__DATABASE": f"db-{tag}",
        }
    )
    settings = load_settings(
        stack=stack.model_dump(),
        mlflow={"model_name": STREAM_MODEL},
        kafka={
            "topic_tweets": f"tweets-{tag}",
            "topic_scored": f"scored-{tag}",
            "topic_dlq": f"dlq-{tag}",
            "topic_feedback": f"feedback-{tag}",
            "consumer_group": f"workers-{tag}",
        },
        cosmos={"database": f"db-{tag}"},
    )
    stream = StreamEnv(settings, env)
    try:
        yield stream
    finally:
        stream.stop_all()


def production_version(settings: Settings) -> str:
    return Registry(settings).get(PRODUCTION).version


class CosmosServer:
    """A Cosmos DB server of one test's own (the shared one must not lose other tests' data), restartable."""

    def __init__(self, state_dir: Path, node_dir: Path) -> None:
        settings = make_stack_settings(state_dir, node_dir)
        self.port = settings.stack.cosmos_port
        self._manager = StackManager(settings, specs=[s for s in build_specs(settings) if s.name == COSMOS])

    def start(self) -> None:
        self._manager.up()

    def stop(self) -> None:
        self._manager.down()

    def restart(self) -> None:
        """Stop and start again: the local server keeps everything in memory, so every database is gone."""
        self.stop()
        self.start()


@pytest.fixture
def own_cosmos(stream_env: StreamEnv, tmp_path: Path, node_dir: Path) -> Iterator[CosmosServer]:
    """This test's own Cosmos DB server; ``stream_env`` and the workers it starts use it."""
    server = CosmosServer(tmp_path / "cosmos", node_dir)
    server.start()
    stream_env.use_cosmos(server.port)
    try:
        yield server
    finally:
        stream_env.stop_all()
        server.stop()
