"""Shadow scoring end to end: a candidate scores a copy of the stream into `shadow` only; the comparison is right."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.helpers import wait_until
from tests.integration.worker.conftest import TRIAGE, StreamEnv, StreamModels
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import FEEDBACK, PREDICTIONS, SHADOW, container_specs, open_client
from tweet_triage.stream.shadow_report import read_comparison

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCORED = 'triage_worker_tweets_total{outcome="scored"}'


def _items(settings: Settings, role: str) -> list[dict[str, Any]]:
    client = open_client(settings)
    try:
        container = client.get_database_client(settings.cosmos.database).get_container_client(
            container_specs(settings.cosmos)[role].name
        )
        return list(container.query_items("SELECT * FROM c", enable_cross_partition_query=True))
    finally:
        client.close()


def _upsert(settings: Settings, role: str, items: list[dict[str, Any]]) -> None:
    client = open_client(settings)
    try:
        container = client.get_database_client(settings.cosmos.database).get_container_client(
            container_specs(settings.cosmos)[role].name
        )
        for item in items:
            container.upsert_item(item)
    finally:
        client.close()


def _whole_topic(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every message on ``topic`` up to its current end."""

    async def read() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()  # fetches the cluster metadata partitions_for_topic reads
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
            assert partitions, f"topic {topic} has no partitions"
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            messages: list[dict[str, Any]] = []
            async with asyncio.timeout(60):
                while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                    batch = await consumer.getmany(*partitions, timeout_ms=500)
                    messages += [json.loads(m.value) for msgs in batch.values() for m in msgs]
            return messages
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_shadow_results_land_only_in_the_shadow_container(stream_env: StreamEnv, stream_models: StreamModels) -> None:
    production = stream_env.start_worker()
    shadow = stream_env.start_worker("--shadow", stream_models.second)
    shadow_port = stream_env.ports[1]
    tweet_ids = [f"s-{i:03d}" for i in range(40)]
    stream_env.publish_tweets(tweet_ids)

    stored = stream_env.wait_stored(len(tweet_ids))
    wait_until(
        lambda: stream_env.metric(shadow_port, SCORED) >= len(tweet_ids),
        timeout_s=120,
        what="the shadow worker to score every tweet",
    )
    settings = stream_env.settings
    shadow_items = _items(settings, SHADOW)
    # shadow: one item per tweet, the candidate's version, keyed (tweet, version), partitioned by tweet
    assert sorted(i["tweet_id"] for i in shadow_items) == tweet_ids
    assert {i["model_version"] for i in shadow_items} == {stream_models.second}
    assert all(i["id"] == f"{i['tweet_id']}:v{stream_models.second}" for i in shadow_items)
    # predictions: production's only; the shadow never wrote there
    assert sorted(r.id for r in stored) == tweet_ids
    assert {r.model_version for r in stored} == {stream_models.first}
    assert len(_items(settings, PREDICTIONS)) == len(tweet_ids)
    # scored topic: production's events only (the shadow's metric counts batches it fully handled, publish included)
    events = _whole_topic(settings, settings.kafka.topic_scored)
    assert sorted(e["id"] for e in events) == tweet_ids
    assert {e["model_version"] for e in events} == {stream_models.first}
    assert stream_env.metric(shadow_port, "triage_worker_dead_letters_total") == 0
    assert production.poll() is None and shadow.poll() is None


def test_compare_shadow_reports_agreement_and_feedback_accuracy(
    stream_env: StreamEnv, stream_models: StreamModels
) -> None:
    stream_env.start_worker()
    stream_env.start_worker("--shadow", stream_models.second)
    tweet_ids = [f"c-{i:03d}" for i in range(20)]
    stream_env.publish_tweets(tweet_ids)
    stream_env.wait_stored(len(tweet_ids))
    settings = stream_env.settings

    def all_shadowed() -> list[dict[str, Any]]:
        items = _items(settings, SHADOW)
        return items if len(items) >= len(tweet_ids) else []

    shadow_items = wait_until(all_shadowed, timeout_s=120, what="shadow results")
    candidate = {i["tweet_id"]: i["label"] for i in shadow_items}
    labels = sorted(stream_env.stored()[0].probabilities)
    other = {labels[0]: labels[1], labels[1]: labels[0]}

    # Seed: production disagrees on 5 tweets (rewrite its items), people label 8 tweets — 6 as the candidate said,
    # 2 the other way (an older label on one of them says otherwise and must be ignored).
    flipped = tweet_ids[:5]
    predictions = {i["id"]: i for i in _items(settings, PREDICTIONS)}
    _upsert(
        settings,
        PREDICTIONS,
        [{**predictions[t], "label": other[predictions[t]["label"]]} for t in flipped],
    )
    production_label = {
        t: predictions[t]["label"] if t not in flipped else other[predictions[t]["label"]] for t in tweet_ids
    }
    labelled = tweet_ids[3:11]  # overlaps the flipped ones: 3 and 4 are flipped and labelled
    truth = {t: candidate[t] if n < 6 else other[candidate[t]] for n, t in enumerate(labelled)}
    now = datetime.now(UTC)
    feedback = [
        FeedbackEvent(tweet_id=t, label=label, annotator="relief-1", labelled_at=now, model_version="x")
        for t, label in truth.items()
    ]
    stale = FeedbackEvent(
        tweet_id=labelled[0], label=other[truth[labelled[0]]], annotator="relief-2", labelled_at=now - timedelta(days=1)
    )
    _upsert(
        settings,
        FEEDBACK,
        [{"id": f"{e.tweet_id}:{e.annotator}", **e.model_dump(mode="json")} for e in [*feedback, stale]],
    )

    report = read_comparison(settings, stream_models.second)
    assert report.shadow_scored == report.paired == len(tweet_ids)
    assert report.agreeing == len(tweet_ids) - len(flipped)
    assert report.agreement == pytest.approx(15 / 20)
    assert sum(report.disagreements.values()) == len(flipped)
    assert report.candidate_on_feedback.labelled == len(labelled)
    assert report.candidate_on_feedback.correct == 6
    expected_production = sum(production_label[t] == truth[t] for t in labelled)
    assert report.production_on_feedback.correct == expected_production
    assert report.production_versions == [stream_models.first]

    # the command prints the same report
    result = subprocess.run(
        [TRIAGE, "model", "compare-shadow", stream_models.second, "--json"],
        env=stream_env.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["agreement"] == pytest.approx(0.75)
    assert printed["candidate_on_feedback"]["accuracy"] == pytest.approx(6 / 8)
