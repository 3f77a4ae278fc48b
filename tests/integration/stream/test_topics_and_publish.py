"""Topics and the producer against the real local broker: create idempotently, publish a CSV, read it back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.broker.topics import ensure_topics, stream_topics
from tweet_triage.contracts.tweets import TweetEvent, parse_event
from tweet_triage.settings import Settings
from tweet_triage.stream.producer.csv_source import CsvTweetSource
from tweet_triage.stream.producer.kafka import KafkaPublisher
from tweet_triage.stream.producer.run import publish_events

pytestmark = pytest.mark.integration

TRIAGE = str(Path(sys.executable).with_name("triage"))
CSV = (
    "id,keyword,location,text,target\n"
    "1,,,Our Deeds are the Reason of this #earthquake May ALLAH Forgive us all,1\n"
    "4,,,Forest fire near La Ronge Sask. Canada,1\n"
    "5,,,\"All residents asked to 'shelter in place' are being notified by officers\",1\n"
    "48,ablaze,Birmingham,@bbcmtd Wholesale markets ablaze http://t.co/lHYXEOHY6C,1\n"
    "49,ablaze,Est. September 2011,We always try to bring the heavy. #metal #RT,0\n"
)


async def topic_partitions(settings: Settings) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        names = await admin.list_topics()
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def consume(settings: Settings, topic: str, n: int) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(topic, **kafka_client_options(settings), auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    messages: list[tuple[bytes | None, bytes | None]] = []
    try:
        async with asyncio.timeout(30):
            while len(messages) < n:
                batch = await consumer.getmany(timeout_ms=1000)
                messages.extend((m.key, m.value) for records in batch.values() for m in records)
    finally:
        await consumer.stop()
    return messages


def test_the_stream_topics_are_created_once_with_the_requested_partitions(topic_settings: Settings) -> None:
    created = asyncio.run(ensure_topics(topic_settings, partitions=3))
    assert created == stream_topics(topic_settings)
    assert asyncio.run(ensure_topics(topic_settings)) == []  # idempotent
    partitions = asyncio.run(topic_partitions(topic_settings))
    assert all(partitions[name] == 3 for name in created)


def test_publish_cli_sends_every_row_keyed_by_id(topic_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "tweets.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run_cli(topic_settings, "publish", str(path), "--rate", "500")
    assert result.returncode == 0, result.stderr
    assert "sent 5, failed 0" in result.stdout

    messages = asyncio.run(consume(topic_settings, topic_settings.kafka.topic_tweets, 5))
    events = [parse_event(value) for _, value in messages]
    assert all(isinstance(event, TweetEvent) for event in events)
    tweets = {event.id: event for event in events if isinstance(event, TweetEvent)}
    assert sorted(tweets) == ["1", "4", "48", "49", "5"]
    assert all(
        key == value.id.encode()
        for key, value in zip((k for k, _ in messages), events, strict=True)
        if isinstance(value, TweetEvent)
    )
    assert tweets["48"].keyword == "ablaze" and tweets["48"].location == "Birmingham"
    assert all(event.published_at is not None and event.created_at is not None for event in tweets.values())
    assert "target" not in tweets["1"].extra


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("id,body\n1,help\n", (), "no column 'text'"),
        ("id,text\n1,help\n2,\n", (), "row 2 (line 3): column 'text': text is blank"),
        (b"id,text\n1,caf\xe9\n", (), "line 2 is not UTF-8"),
        ("id,text\n1,help\n", ("--id-column", "tweet_id"), "no column 'tweet_id'"),
    ],
)
def test_a_bad_file_sends_nothing(
    topic_settings: Settings, tmp_path: Path, content: str | bytes, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run_cli(topic_settings, "publish", str(path), *args)
    assert result.returncode == 2
    assert message in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.stderr
    assert topic_settings.kafka.topic_tweets not in asyncio.run(topic_partitions(topic_settings))  # never touched


def test_library_publish_with_hashed_ids(topic_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "no-ids.csv"
    path.write_text("text\nhelp us\nhelp us\nbridge down\n", encoding="utf-8")
    source = CsvTweetSource(path)
    source.validate()

    async def run() -> int:
        await ensure_topics(topic_settings, names=[topic_settings.kafka.topic_tweets])
        async with KafkaPublisher(topic_settings) as publisher:
            report = await publish_events(source.events(), publisher)
        return report.sent

    assert asyncio.run(run()) == 3
    keys = {key for key, _ in asyncio.run(consume(topic_settings, topic_settings.kafka.topic_tweets, 3))}
    assert keys == {event.key for event in source.events()} and len(keys) == 3


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(
        COLUMNS="200",
        TRIAGE_STACK__KAFKA_PORT=str(settings.stack.kafka_port),
        TRIAGE_KAFKA__TOPIC_TWEETS=settings.kafka.topic_tweets,
    )
    return subprocess.run([TRIAGE, *args], capture_output=True, text=True, env=env, timeout=120, check=False)
