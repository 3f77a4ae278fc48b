"""How much of a topic a consumer group has not processed yet, and whether anybody in the group is consuming.

``pending`` is the sum over partitions of (end offset − the group's committed offset). The end offset is *not* taken
from ListOffsets: the local broker under-reports it when producers send batches (docs/local-services.md). It is the
high watermark of a fetch made at the reported end — a fetch answer always carries the true one — falling back to the
reported value when nothing lies beyond it. Committed offsets come from OffsetFetch (the local broker lacks the admin
call), members from DescribeGroups. Read-only: nothing joins the group or commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.broker.topic_reader import true_end_offsets
from tweet_triage.broker.topics import TopicError
from tweet_triage.settings import Settings

_PROBE_MS: Final = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    """A consumer group that must keep up with some topics before the stack may stop."""

    name: str  # for people: "stream worker", "monitor"
    group: str
    topics: tuple[str, ...]
    required: bool  # False: a group that never committed anything is not part of this deployment (skipped)
    start_hint: str


@dataclass(frozen=True)
class Backlog:
    consumer: Consumer
    topic: str
    pending: int
    committed_any: bool  # the group has committed an offset on this topic at some time
    members: int  # consumers in the group right now

    @property
    def relevant(self) -> bool:
        return self.consumer.required or self.committed_any or self.members > 0


def stack_consumers(settings: Settings) -> list[Consumer]:
    """The worker and the monitor: what `triage stack down` drains."""
    kafka = settings.kafka
    return [
        Consumer(
            "stream worker",
            kafka.consumer_group,
            (kafka.topic_tweets,),
            required=True,
            start_hint="start one with `triage worker`",
        ),
        Consumer(
            "monitor",
            settings.monitor.consumer_group,
            (kafka.topic_scored, kafka.topic_feedback),
            required=False,
            start_hint="start it with `triage monitor`",
        ),
    ]


async def measure(settings: Settings, consumers: Sequence[Consumer]) -> list[Backlog]:
    """One :class:`Backlog` per (consumer, topic); topics that do not exist have none."""
    options = kafka_client_options(settings)
    probe = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False, max_partition_fetch_bytes=1024)
    try:
        await probe.start()
        await probe.topics()
        wanted = sorted({topic for consumer in consumers for topic in consumer.topics})
        partitions = {t: [TopicPartition(t, p) for p in sorted(probe.partitions_for_topic(t) or ())] for t in wanted}
        all_tps = [tp for tps in partitions.values() for tp in tps]
        ends = await true_end_offsets(probe, all_tps, fetch_ms=_PROBE_MS)
        members = {c.group: await _member_count(settings, c.group) for c in consumers}
        backlogs = []
        for consumer in consumers:
            reader = AIOKafkaConsumer(**options, group_id=consumer.group, enable_auto_commit=False)
            await reader.start()
            try:
                for topic in consumer.topics:
                    if not partitions.get(topic):
                        continue
                    committed = {tp: await reader.committed(tp) for tp in partitions[topic]}
                    pending = sum(max(ends[tp] - (committed[tp] or 0), 0) for tp in partitions[topic])
                    backlogs.append(
                        Backlog(
                            consumer,
                            topic,
                            pending,
                            any(offset is not None for offset in committed.values()),
                            members.get(consumer.group, 0),
                        )
                    )
            finally:
                await reader.stop()
        return backlogs
    except KafkaError as exc:
        raise TopicError(f"cannot read consumer positions at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await probe.stop()


async def _member_count(settings: Settings, group: str) -> int:
    """Consumers in ``group`` now (DescribeGroups). The local broker answers an empty group correctly but encodes a
    group with members in a way aiokafka cannot decode (measured): an answer that fails to decode counts as one."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    try:
        await admin.start()
        return _members(await admin.describe_consumer_groups([group])).get(group, 0)
    except (KafkaError, ValueError):
        log.debug("DescribeGroups of %s failed to decode: counting it as having a member", group)
        return 1
    finally:
        await admin.close()


def _members(responses: Sequence[Any]) -> dict[str, int]:
    """group id -> members, from DescribeGroups answers (groups are (error, group, state, type, protocol, members))."""
    found: dict[str, int] = {}
    for response in responses:
        for group in getattr(response, "groups", None) or []:
            found[str(group[1])] = len(group[5] or [])
    return found
