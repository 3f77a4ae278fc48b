"""Publish tweets with the Event Hubs AMQP client (``azure-eventhub``), in size-aware batches.

An ``EventDataBatch`` carries one partition key, so batching tweets keyed by their (unique) ids would mean batches of
one. Instead each tweet is placed on a partition by its id — murmur2 of the id, the hash Kafka producers use for
keys, so a tweet lands on the same partition whichever client sends it — and the tweets of each partition go out in
batches filled up to the hub's size limit (``EventDataBatch.add`` refuses what does not fit; then the batch is sent
and a new one started). The tweet id also travels as the application property ``tweet_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from aiokafka.partitioner import murmur2
from azure.eventhub import EventData
from azure.eventhub.aio import EventHubProducerClient
from azure.identity.aio import DefaultAzureCredential

from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.errors import PublishError, UsageError
from tweet_triage.settings import Settings, env_name

if TYPE_CHECKING:
    from azure.eventhub import EventDataBatch

log = logging.getLogger(__name__)


class EventHubsClient(Protocol):
    """The part of ``azure.eventhub.aio.EventHubProducerClient`` the publisher uses (faked in tests)."""

    async def get_partition_ids(self) -> list[str]: ...

    async def create_batch(self, *, partition_id: str | None = None) -> EventDataBatch: ...

    async def send_batch(self, event_data_batch: EventDataBatch, **kwargs: Any) -> None: ...

    async def close(self) -> None: ...


class _ClosingCredential:
    """The Entra-signed producer client, closing its credential with it."""

    def __init__(self, client: Any, credential: Any) -> None:
        self._client = client
        self._credential = credential

    async def get_partition_ids(self) -> list[str]:
        ids: list[str] = await self._client.get_partition_ids()
        return ids

    async def create_batch(self, *, partition_id: str | None = None) -> EventDataBatch:
        batch: EventDataBatch = await self._client.create_batch(partition_id=partition_id)
        return batch

    async def send_batch(self, event_data_batch: EventDataBatch, **kwargs: Any) -> None:
        await self._client.send_batch(event_data_batch, **kwargs)

    async def close(self) -> None:
        try:
            await self._client.close()
        finally:
            await self._credential.close()


def partition_for(tweet_id: str, partition_ids: Sequence[str]) -> str:
    """The partition a tweet goes to: Kafka's default partitioner applied to the id."""
    index = (int(murmur2(tweet_id.encode("utf-8"))) & 0x7FFFFFFF) % len(partition_ids)
    return partition_ids[index]


class EventHubsPublisher:
    def __init__(self, client: EventHubsClient, *, eventhub_name: str) -> None:
        self._client = client
        self.eventhub_name = eventhub_name
        self._partitions: list[str] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> EventHubsPublisher:
        """Connect with the connection string (a producer's send-only key), or with Entra ID to the namespace;
        the event hub is the tweets topic's name."""
        kafka = settings.kafka
        name = kafka.topic_tweets
        secret = kafka.eventhubs_connection_string
        if secret is not None:
            client = EventHubProducerClient.from_connection_string(secret.get_secret_value(), eventhub_name=name)
            return cls(client, eventhub_name=name)
        if kafka.eventhubs_namespace is not None:
            credential = DefaultAzureCredential(managed_identity_client_id=kafka.identity_client_id)
            entra = EventHubProducerClient(kafka.eventhubs_namespace, name, credential)
            return cls(_ClosingCredential(entra, credential), eventhub_name=name)
        raise UsageError(
            f"--to eventhubs needs {env_name(('kafka', 'eventhubs_connection_string'))} (a connection string that "
            f"may send to {name!r}) or {env_name(('kafka', 'eventhubs_namespace'))} (sign in with Entra ID)"
        )

    @property
    def destination(self) -> str:
        return f"event hub {self.eventhub_name!r}"

    @property
    def max_in_flight(self) -> int:
        """One chunk at a time: each chunk is already one ``EventDataBatch`` send per partition."""
        return 1

    async def __aenter__(self) -> Self:
        try:
            ids = await self._client.get_partition_ids()
        except Exception as exc:  # the SDK raises many types (auth, connection, not found)
            await self._client.close()
            raise PublishError(f"cannot reach {self.destination}: {type(exc).__name__}: {exc}") from exc
        if not ids:
            await self._client.close()
            raise PublishError(f"{self.destination} reports no partitions")
        self._partitions = sorted(ids, key=lambda pid: (len(pid), pid))  # "0".."31", numeric order
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.close()

    async def publish(self, events: Sequence[TweetEvent]) -> list[BaseException | None]:
        if not self._partitions:
            raise RuntimeError("EventHubsPublisher is not open; use it with `async with`")
        outcomes: list[BaseException | None] = [None] * len(events)
        by_partition: dict[str, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_partition[partition_for(event.id, self._partitions)].append(index)
        await asyncio.gather(
            *(self._publish_partition(pid, indexes, events, outcomes) for pid, indexes in by_partition.items())
        )
        return outcomes

    async def _publish_partition(
        self, partition_id: str, indexes: list[int], events: Sequence[TweetEvent], outcomes: list[BaseException | None]
    ) -> None:
        batch = await self._client.create_batch(partition_id=partition_id)
        members: list[int] = []
        for index in indexes:
            data = _event_data(events[index])
            try:
                batch.add(data)
            except ValueError:  # the batch is full
                if not members:
                    outcomes[index] = PublishError(f"tweet {events[index].id!r} is larger than an event hub batch")
                    continue
                await self._send(batch, members, outcomes)
                batch, members = await self._client.create_batch(partition_id=partition_id), []
                try:
                    batch.add(data)
                except ValueError:
                    outcomes[index] = PublishError(f"tweet {events[index].id!r} is larger than an event hub batch")
                    continue
            members.append(index)
        if members:
            await self._send(batch, members, outcomes)

    async def _send(self, batch: EventDataBatch, members: list[int], outcomes: list[BaseException | None]) -> None:
        try:
            await self._client.send_batch(batch)
        except Exception as exc:  # the batch failed as a whole; every member is reported failed
            log.warning("sending a batch of %d to %s failed: %s", len(members), self.destination, exc)
            for index in members:
                outcomes[index] = exc


def _event_data(event: TweetEvent) -> EventData:
    data = EventData(event.to_json())
    data.content_type = "application/json"
    data.properties = {"tweet_id": event.id}
    return data
