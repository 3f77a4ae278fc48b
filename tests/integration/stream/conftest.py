"""Per-test isolation on the shared local stack: a fresh Cosmos DB database, fresh topic names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import open_client


@pytest.fixture
def store_settings(local_stack: Settings) -> Iterator[Settings]:
    """The local stack with a database of this test's own (dropped afterwards, the server keeps all in memory)."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    settings = local_stack.model_copy(update={"cosmos": local_stack.cosmos.model_copy(update={"database": name})})
    yield settings
    client = open_client(settings)
    try:
        if any(db["id"] == name for db in client.list_databases()):
            client.delete_database(name)
    finally:
        client.close()


@pytest.fixture
def topic_settings(local_stack: Settings) -> Settings:
    """The local stack with topic names nobody else uses."""
    suffix = uuid.uuid4().hex[:8]
    kafka = local_stack.kafka.model_copy(
        update={
            "topic_tweets": f"tweets-{suffix}",
            "topic_scored": f"scored-{suffix}",
            "topic_dlq": f"dlq-{suffix}",
            "topic_feedback": f"feedback-{suffix}",
            "topic_alerts": f"alerts-{suffix}",
        }
    )
    return local_stack.model_copy(update={"kafka": kafka})
