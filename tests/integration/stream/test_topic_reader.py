"""The topic reader against the real local broker: everything a topic held at the start, once, despite the broker
under-reporting its end offsets; and it ends while producers keep writing."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from aiokafka import AIOKafkaProducer

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.broker.topic_reader import ReadProgress, TopicReader, TopicRecord, read_record
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.settings import Settings

pytestmark = pytest.mark.integration


async def produce(settings: Settings, topic: str, values: list[bytes], *, linger_ms: int = 20) -> None:
    """Batched sends (linger): the case in which the local broker under-reports end offsets."""
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", linger_ms=linger_ms)
    await producer.start()
    try:
        deliveries = [await producer.send(topic, value=v, key=str(i).encode()) for i, v in enumerate(values)]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def read_all(settings: Settings, topic: str, **options: object) -> tuple[list[TopicRecord], TopicReader]:
    async with TopicReader(settings, topic, **options) as reader:  # type: ignore[arg-type]
        return [record async for record in reader.records()], reader


def test_every_record_is_read_once_although_the_end_offsets_are_under_reported(topic_settings: Settings) -> None:
    topic = topic_settings.kafka.topic_dlq
    values = [json.dumps({"n": i}).encode() for i in range(500)]

    async def scenario() -> tuple[list[TopicRecord], TopicReader, list[ReadProgress]]:
        await ensure_topics(topic_settings, names=[topic], partitions=2)
        await produce(topic_settings, topic, values)
        seen: list[ReadProgress] = []
        async with TopicReader(topic_settings, topic) as reader:
            records = [record async for record in reader.records(on_progress=seen.append)]
        return records, reader, seen

    records, reader, progress = asyncio.run(scenario())
    assert sorted(r.value or b"" for r in records) == sorted(values)
    assert len({(r.partition, r.offset) for r in records}) == 500
    assert reader.expected == 500  # the true end offsets (the fetch's high watermark), not ListOffsets' count
    assert progress[-1].read == 500 and progress[-1].partitions_done == 2
    assert sum(reader.read_up_to.values()) == 500


def test_the_read_ends_while_a_producer_keeps_writing(topic_settings: Settings) -> None:
    topic = topic_settings.kafka.topic_scored

    async def scenario() -> tuple[int, int]:
        await ensure_topics(topic_settings, names=[topic], partitions=2)
        await produce(topic_settings, topic, [b"before"] * 200)
        stop = asyncio.Event()

        async def keep_writing() -> None:
            producer = AIOKafkaProducer(**kafka_client_options(topic_settings), acks="all", linger_ms=0)
            await producer.start()
            try:
                while not stop.is_set():
                    await producer.send_and_wait(topic, value=b"after")
            finally:
                await producer.stop()

        writer = asyncio.create_task(keep_writing())
        try:
            async with asyncio.timeout(60):  # an endless read would hit this
                records, _ = await read_all(topic_settings, topic)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await writer
        return sum(r.value == b"before" for r in records), sum(r.value == b"after" for r in records)

    before, _after = asyncio.run(scenario())
    assert before == 200  # everything the topic held at the start; some of what came later may be read too


def test_a_second_pass_reads_exactly_what_the_first_one_saw(topic_settings: Settings) -> None:
    topic = topic_settings.kafka.topic_feedback

    async def scenario() -> tuple[list[TopicRecord], list[TopicRecord]]:
        await ensure_topics(topic_settings, names=[topic], partitions=2)
        await produce(topic_settings, topic, [b"first %d" % i for i in range(300)])  # batched: end offsets short
        first, reader = await read_all(topic_settings, topic)
        await produce(topic_settings, topic, [b"later"] * 50)
        second, _ = await read_all(topic_settings, topic, stop_at=reader.read_up_to)
        return first, second

    first, second = asyncio.run(scenario())
    in_place = sorted(first, key=lambda r: (r.partition, r.offset))
    assert len(first) == 300 and sorted(second, key=lambda r: (r.partition, r.offset)) == in_place


def test_a_missing_topic_reads_as_empty_and_one_record_can_be_read_by_its_position(topic_settings: Settings) -> None:
    topic = topic_settings.kafka.topic_tweets

    async def scenario() -> tuple[bool, TopicRecord | None, TopicRecord | None, TopicRecord | None]:
        async with TopicReader(topic_settings, topic) as reader:
            exists = reader.exists
            assert [r async for r in reader.records()] == []
        await ensure_topics(topic_settings, names=[topic], partitions=1)
        await produce(topic_settings, topic, [b"zero", b"one", b"two"], linger_ms=0)
        return (
            exists,
            await read_record(topic_settings, topic, 0, 1),
            await read_record(topic_settings, topic, 0, 99),
            await read_record(topic_settings, topic, 7, 0),
        )

    exists, found, past_the_end, no_partition = asyncio.run(scenario())
    assert not exists
    assert found is not None and (found.value, found.position) == (b"one", "0:1")
    assert past_the_end is None and no_partition is None
