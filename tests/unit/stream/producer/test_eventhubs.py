"""Event Hubs batching with a fake client that hands out real, small EventDataBatch objects."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from azure.eventhub import EventDataBatch

from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.errors import PublishError
from tweet_triage.stream.producer.eventhubs import EventHubsPublisher, partition_for

PARTITIONS = [str(i) for i in range(4)]


class FakeProducerClient:
    def __init__(self, *, max_batch_bytes: int = 1_000, fail_partition: str | None = None) -> None:
        self.max_batch_bytes = max_batch_bytes
        self.fail_partition = fail_partition
        self.sent: list[EventDataBatch] = []
        self.closed = False

    async def get_partition_ids(self) -> list[str]:
        return list(reversed(PARTITIONS))

    async def create_batch(self, *, partition_id: str | None = None) -> EventDataBatch:
        return EventDataBatch(max_size_in_bytes=self.max_batch_bytes, partition_id=partition_id)

    async def send_batch(self, event_data_batch: EventDataBatch, **kwargs: Any) -> None:
        if event_data_batch._partition_id == self.fail_partition:
            raise ConnectionError("link detached")
        self.sent.append(event_data_batch)

    async def close(self) -> None:
        self.closed = True


def tweets(n: int, text: str = "water rising fast on main street") -> list[TweetEvent]:
    return [TweetEvent(id=f"t{i}", text=text) for i in range(n)]


def publish(client: FakeProducerClient, events: list[TweetEvent]) -> list[BaseException | None]:
    async def run() -> list[BaseException | None]:
        async with EventHubsPublisher(client, eventhub_name="tweets") as publisher:
            return await publisher.publish(events)

    return asyncio.run(run())


def batch_events(batch: EventDataBatch) -> list[dict[str, Any]]:
    return [json.loads(body_of(data)) for data in batch._internal_events]


def body_of(data: Any) -> str:
    return str(data.body_as_str())


def test_tweets_are_batched_per_partition_by_id_within_the_size_limit() -> None:
    client = FakeProducerClient(max_batch_bytes=1_000)
    events = tweets(60)
    outcomes = publish(client, events)
    assert outcomes == [None] * 60
    assert client.closed
    sent = [event for batch in client.sent for event in batch_events(batch)]
    assert sorted(e["id"] for e in sent) == sorted(e.id for e in events)
    assert len(client.sent) > len(PARTITIONS)  # the size limit forced several batches per partition
    for batch in client.sent:
        assert batch.size_in_bytes <= 1_000
        assert {partition_for(e["id"], PARTITIONS) for e in batch_events(batch)} == {batch._partition_id}
    for batch in client.sent:
        for data in batch._internal_events:
            properties: Any = data.properties
            assert properties["tweet_id"] == json.loads(body_of(data))["id"]


def test_placement_matches_what_a_kafka_producer_would_choose() -> None:
    for i in range(50):
        key = f"{i * 7919}"
        expected = DefaultPartitioner()(key.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
        assert partition_for(key, PARTITIONS) == str(expected)
    spread = Counter(partition_for(str(i), PARTITIONS) for i in range(1000))
    assert len(spread) == 4 and min(spread.values()) > 150


def test_a_tweet_larger_than_a_batch_fails_alone() -> None:
    client = FakeProducerClient(max_batch_bytes=400)
    events = [*tweets(3), TweetEvent(id="big", text="x" * 900), *tweets(2, text="short")]
    outcomes = publish(client, events)
    failed = [events[i].id for i, outcome in enumerate(outcomes) if outcome is not None]
    assert failed == ["big"]
    assert isinstance(outcomes[3], PublishError)


def test_a_failed_send_fails_exactly_that_batchs_tweets() -> None:
    client = FakeProducerClient(fail_partition="2")
    events = tweets(40)
    outcomes = publish(client, events)
    for event, outcome in zip(events, outcomes, strict=True):
        assert (outcome is not None) == (partition_for(event.id, PARTITIONS) == "2")


def test_an_unreachable_hub_is_a_publish_error_and_the_client_is_closed() -> None:
    class Unreachable(FakeProducerClient):
        async def get_partition_ids(self) -> list[str]:
            raise ConnectionError("no route to host")

    client = Unreachable()
    with pytest.raises(PublishError, match="cannot reach event hub 'tweets'"):
        publish(client, tweets(1))
    assert client.closed
