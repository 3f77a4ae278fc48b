"""A local stack that loses nothing on restart, against the real services: the results store survives `stack down` /
`stack up` (snapshot) and a SIGKILL of the Cosmos DB server (snapshot + rebuild from the topics), the rebuild is
idempotent, `stack down` refuses to leave unprocessed tweets without a worker, and the broker keeps its topics and
group offsets through a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import make_stack_settings
from tests.helpers import wait_until
from tweet_triage.app.drain import DrainRefused
from tweet_triage.app.stack.lifecycle import start_stack, stop_stack
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.monitoring.alerts.center import alert_center
from tweet_triage.monitoring.alerts.records import AlertDraft
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.feedback_store import FeedbackRecord, FeedbackStore
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import open_container
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord, item_body
from tweet_triage.store.snapshot import take_snapshot
from tweet_triage.stream.rebuild import rebuild

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def say(line: str) -> None:
    print(line)


@pytest.fixture
def stack(tmp_path: Path, node_dir: Path) -> Iterator[Settings]:
    settings = make_stack_settings(tmp_path / "state", node_dir, stack_extra={"snapshot_every_s": 0})
    start_stack(settings, say=say)
    asyncio.run(ensure_topics(settings))
    try:
        yield settings
    finally:
        stop_stack(settings, say=say, force=True)


def prediction(n: int) -> PredictionRecord:
    tweet = TweetEvent.model_validate({"id": f"t{n:04d}", "text": f"flood water rising near bridge {n}"})
    probabilities = {"emergency": 0.9, "other": 0.1} if n % 3 else {"emergency": 0.2, "other": 0.8}
    label = max(probabilities, key=lambda k: probabilities[k])
    return PredictionRecord.from_scoring(
        tweet,
        label=label,
        confidence=probabilities[label],
        probabilities=probabilities,
        model_name="tweet-triage",
        model_version="1",
        scored_at=T0 + timedelta(seconds=n),
    )


def score(settings: Settings, numbers: range) -> list[PredictionRecord]:
    """What the worker does for each tweet: store the prediction, publish the scored event."""
    records = [prediction(n) for n in numbers]
    with open_container(settings, "predictions", create=True) as container:
        for record in records:
            container.upsert_item(record.to_item())
    publish(
        settings,
        settings.kafka.topic_scored,
        [(r.id, ScoredEvent.from_prediction(r, [0.5] * 4).to_json()) for r in records],
    )
    return records


def correct(settings: Settings, tweet_ids: list[str]) -> None:
    """Corrections as the API publishes them and the monitor stores them."""
    events = [
        FeedbackEvent(tweet_id=t, label="other", annotator="ana", labelled_at=T0 + timedelta(minutes=i))
        for i, t in enumerate(tweet_ids)
    ]
    publish(settings, settings.kafka.topic_feedback, [(e.tweet_id, e.to_json()) for e in events])
    with PredictionReader.open(settings) as predictions, FeedbackStore.open(settings, create=True) as store:
        for event in events:
            store.save(FeedbackRecord.join(event, predictions.get(event.tweet_id), T0))


def raise_alert(settings: Settings) -> str:
    draft = AlertDraft(kind="drift", severity="warning", title="Drift: test", summary="s", model_version="1")
    with AlertStore.open(settings, create=True) as store:
        return alert_center(settings, store).raise_alert(draft).alert.id


def publish(settings: Settings, topic: str, messages: list[tuple[str, bytes]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            futures = [await producer.send(topic, key=k.encode(), value=v) for k, v in messages]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(send())


ARRIVAL = {"received_at", "order_key"}  # a rebuilt label "arrived" when it was published, not when first stored


def contents(settings: Settings) -> dict[str, list[dict[str, object]]]:
    out = {}
    for role in ("predictions", "feedback", "alerts"):
        with open_container(settings, role) as container:
            items = [item_body(i) for i in container.query_items("SELECT * FROM c", enable_cross_partition_query=True)]
        if role == "feedback":
            items = [{k: v for k, v in item.items() if k not in ARRIVAL} for item in items]
        out[role] = sorted(items, key=lambda i: str(i["id"]))
    return out


def test_everything_stored_is_back_after_stack_down_and_up(stack: Settings) -> None:
    score(stack, range(300))
    correct(stack, [f"t{n:04d}" for n in range(20)])
    alert_id = raise_alert(stack)
    before = contents(stack)

    stop_stack(stack, say=say)
    assert StackManager(stack).record("cosmos") is None
    up = start_stack(stack, say=say)

    assert up.recovery is not None and sum(up.recovery.restore.created.values()) == 300 + 20 + 1
    assert contents(stack) == before
    with AlertStore.open(stack) as alerts:
        assert [a.id for a in alerts.recent(status="open")] == [alert_id]


def test_a_killed_cosmos_server_comes_back_whole_from_snapshot_and_topics(stack: Settings) -> None:
    score(stack, range(200))
    correct(stack, ["t0001", "t0002"])
    take_snapshot(stack)
    score(stack, range(200, 260))  # after the snapshot: only the topics hold these
    correct(stack, ["t0201"])
    alert_id = raise_alert(stack)
    before = contents(stack)

    record = StackManager(stack).record("cosmos")
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: StackManager(stack).record("cosmos") is None, timeout_s=10, what="cosmos gone")
    up = start_stack(stack, say=say)

    assert up.recovery is not None
    assert up.recovery.rebuilt == {"predictions": 60, "feedback": 1, "alerts": 1}
    assert contents(stack) == before
    with AlertStore.open(stack) as alerts:
        assert alerts.get(alert_id).kind == "drift"


def test_the_rebuild_run_twice_gives_the_same_store(stack: Settings) -> None:
    score(stack, range(120))
    correct(stack, ["t0003", "t0004", "t0005"])
    raise_alert(stack)
    expected = contents(stack)
    with open_container(stack, "predictions") as container:
        for n in range(0, 120, 2):
            container.delete_item(f"t{n:04d}", partition_key=f"t{n:04d}")

    first = {r.container: (r.written, r.unchanged) for r in rebuild(stack)}
    after_first = contents(stack)
    second = {r.container: (r.written, r.unchanged) for r in rebuild(stack)}

    assert first == {"predictions": (60, 60), "feedback": (0, 3), "alerts": (0, 1)}
    assert second == {"predictions": (0, 120), "feedback": (0, 3), "alerts": (0, 1)}
    assert after_first == contents(stack) == expected


def test_stack_down_refuses_to_leave_unprocessed_tweets_without_a_worker(stack: Settings) -> None:
    publish(
        stack,
        stack.kafka.topic_tweets,
        [(f"u{n}", json.dumps({"id": f"u{n}", "text": "help"}).encode()) for n in range(25)],
    )

    with pytest.raises(DrainRefused) as refused:
        stop_stack(stack, say=say)

    message = str(refused.value)
    assert "25 record(s) in `tweets` not yet processed by the stream worker" in message
    assert "`triage worker`" in message and "--force" in message
    assert StackManager(stack).record("broker") is not None  # nothing was stopped


def test_the_broker_keeps_topics_and_group_offsets_through_a_sigkill(stack: Settings) -> None:
    topic = stack.kafka.topic_tweets
    publish(stack, topic, [(f"k{n}", b"first") for n in range(50)])

    async def consume(want: int) -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.kafka_bootstrap,
            group_id="g",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            async with asyncio.timeout(60):
                while len(got) < want:
                    batch = await consumer.getmany(timeout_ms=500)
                    got += [m.value for msgs in batch.values() for m in msgs]
            await consumer.commit()
        finally:
            await consumer.stop()
        return got

    assert len(asyncio.run(consume(50))) == 50
    broker = StackManager(stack).record("broker")
    assert broker is not None
    os.kill(broker.pid, signal.SIGKILL)
    wait_until(lambda: StackManager(stack).record("broker") is None, timeout_s=10, what="broker gone")
    start_stack(stack, say=say)
    publish(stack, topic, [(f"k{n}", b"second") for n in range(30)])

    assert asyncio.run(consume(30)) == [b"second"] * 30  # resumed where the group was, nothing lost or repeated
