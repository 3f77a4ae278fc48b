"""Create the stream's topics if they are missing (idempotent).

Works wherever the broker accepts CreateTopics (the local Tansu broker does). On Event Hubs, event hubs are
usually created with the namespace's infrastructure code; there this is a no-op when they already exist.
Partition counts cannot be changed afterwards (the local broker has no CreatePartitions either).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.errors import TriageError
from tweet_triage.settings import Settings, local_stack_hint

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS: Final = 2
_TOPIC_ALREADY_EXISTS: Final = 36


class TopicError(TriageError):
    """A topic could not be listed or created."""


def stream_topics(settings: Settings) -> list[str]:
    """The stream's topic names: tweets, scored, dead letters, feedback, alerts."""
    kafka = settings.kafka
    return [kafka.topic_tweets, kafka.topic_scored, kafka.topic_dlq, kafka.topic_feedback, kafka.topic_alerts]


async def ensure_topics(
    settings: Settings,
    *,
    names: Sequence[str] | None = None,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create each topic of ``names`` (default: the four stream topics) that does not exist; return the created ones."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    wanted = list(dict.fromkeys(names if names is not None else stream_topics(settings)))
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in missing], timeout_ms=int(timeout_s * 1000)
        )
    except KafkaError as exc:
        hint = local_stack_hint(settings)
        raise TopicError(
            f"cannot create topics on the Kafka broker at {settings.kafka_bootstrap}: {exc}.{hint}"
        ) from exc
    finally:
        await admin.close()
    created = []
    for name, code, message in (error[:3] for error in response.topic_errors):
        if code == 0:
            created.append(name)
        elif code != _TOPIC_ALREADY_EXISTS:  # someone else created it in the meantime: fine
            raise TopicError(f"cannot create topic {name!r} on {settings.kafka_bootstrap}: {message} (code {code})")
    if created:
        log.info("created topics %s with %d partition(s)", ", ".join(created), partitions)
    return created


async def existing_topics(settings: Settings, *, timeout_s: float = 30.0) -> set[str]:
    """The names of the topics (event hubs) the broker has."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await admin.start()
        return set(await admin.list_topics())
    except KafkaError as exc:
        raise TopicError(
            f"cannot list topics on the Kafka broker at {settings.kafka_bootstrap}: {exc}.{local_stack_hint(settings)}"
        ) from exc
    finally:
        await admin.close()
