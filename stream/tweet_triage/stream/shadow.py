"""Shadow scoring: a candidate model scores a mirrored copy of live traffic without touching anything live.

The shadow worker is the ordinary worker with three differences, so what is measured is what would run:

* its own consumer group on ``tweets`` (``<group>-shadow-v<VERSION>``): it reads every tweet, the live group loses none;
* the model is one fixed registered version, not the ``production`` alias;
* results go to the ``shadow`` container only (partition key ``/tweet_id``, item id ``<tweet id>:v<version>`` so
  several candidates can shadow at once), and nothing is published: no scored events (the monitors and dashboards
  never see a candidate), no dead letters (the live worker already dead-letters bad input).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tweet_triage.settings import Settings
from tweet_triage.store.records import PredictionRecord

SHADOW_GROUP_SUFFIX = "-shadow-v"


def shadow_item(record: PredictionRecord) -> dict[str, Any]:
    """A prediction record as a ``shadow`` item: one per (tweet, model version)."""
    item = record.to_item()
    return {**item, "id": shadow_item_id(record.id, record.model_version), "tweet_id": record.id}


def shadow_item_id(tweet_id: str, version: str) -> str:
    return f"{tweet_id}:v{version}"


def shadow_settings(settings: Settings, version: str) -> Settings:
    """The same settings with the shadow's own consumer group."""
    group = f"{settings.kafka.consumer_group}{SHADOW_GROUP_SUFFIX}{version}"
    return settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"consumer_group": group})})


class DiscardingPublisher:
    """Stands in for the Kafka sender: a shadow worker publishes nothing."""

    def __init__(self) -> None:
        self.discarded = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_many(self, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> list[BaseException | None]:
        self.discarded += len(messages)
        return [None] * len(messages)
