"""Producers use other clients than ours: a librdkafka-based one (confluent-kafka), with every compression codec a
Kafka client may choose and unusual but legal headers, against the real local broker and a real worker."""

from __future__ import annotations

import asyncio
import json

import pytest
from confluent_kafka import KafkaError, Message, Producer

from tests.integration.worker.conftest import StreamEnv
from tweet_triage.broker.topics import ensure_topics

pytestmark = pytest.mark.integration

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
TWEETS_PER_CODEC = 40
# Legal but unusual: binary and empty values, a null value, a repeated name, non-ASCII names, many headers.
HEADERS: list[tuple[str, str | bytes | None]] = [
    ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ("bin", bytes(range(256))),
    ("empty", b""),
    ("null", None),
    ("repeated", b"1"),
    ("repeated", b"2"),
    ("n\u00e4me-\u706b-\U0001f525", b"\xff\xfe"),
    *[(f"x-{i}", b"v" * 64) for i in range(30)],
]


def publish_with_librdkafka(bootstrap: str, topic: str, codec: str, ids: list[str]) -> None:
    """Every tweet in one batch per partition (linger), compressed with ``codec``; fails on any delivery error."""
    errors: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            errors.append(f"{message.key()!r}: {error}")

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "linger.ms": 50,
            "acks": "all",
            "enable.idempotence": False,
        }
    )
    for tweet_id in ids:
        value = json.dumps({"id": tweet_id, "text": f"Flood water rising on Main Street ({codec}) #{tweet_id}"})
        producer.produce(topic, value=value.encode(), key=tweet_id.encode(), headers=HEADERS, on_delivery=delivered)
    left = producer.flush(60)
    assert left == 0 and not errors, f"{codec}: {left} undelivered, errors {errors[:3]}"


def test_tweets_from_a_librdkafka_client_in_every_codec_are_all_stored(stream_env: StreamEnv) -> None:
    settings = stream_env.settings
    asyncio.run(ensure_topics(settings))
    expected = {f"{codec}-{i}" for codec in CODECS for i in range(TWEETS_PER_CODEC)}
    for codec in CODECS:
        ids = [f"{codec}-{i}" for i in range(TWEETS_PER_CODEC)]
        publish_with_librdkafka(settings.kafka_bootstrap, settings.kafka.topic_tweets, codec, ids)
    stream_env.start_worker()
    stored = stream_env.wait_stored(len(expected), timeout_s=180)
    assert {r.id for r in stored} == expected
    assert stream_env.all_dead_letters() == []
