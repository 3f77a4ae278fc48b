"""The results store's contract (tests/contracts/stores.py) against Cosmos DB: the local server of the test stack.

Every test gets a database of its own with the schema in place (as the worker and the monitor create it when they
start), dropped afterwards. The predictions cases run once per write path of the worker (lean REST upserts, SDK).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence

import pytest

from tests.contracts.stores import AlertStoreContract, FeedbackStoreContract, Predictions, PredictionStoreContract
from tweet_triage.monitoring.alerts.store import AlertStorage, AlertStore
from tweet_triage.monitoring.feedback_store import FeedbackStorage, FeedbackStore
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import ALERTS, ensure_schema, open_client, open_container
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import RetryPolicy
from tweet_triage.store.writer import PredictionSink, PredictionWriter, WriteReport

pytestmark = pytest.mark.integration


@pytest.fixture
def cosmos(local_stack: Settings) -> Iterator[Settings]:
    """The local stack's settings naming a fresh database with all containers; the database is dropped after."""
    name = f"contract-{uuid.uuid4().hex[:10]}"
    settings = local_stack.model_copy(update={"cosmos": local_stack.cosmos.model_copy(update={"database": name})})
    client = open_client(settings)
    try:
        ensure_schema(client, settings)
        yield settings
        client.delete_database(name)  # the server keeps every database in memory
    finally:
        client.close()


@pytest.fixture(params=["rest", "sdk"])
def predictions(request: pytest.FixtureRequest, cosmos: Settings) -> Iterator[Predictions]:
    """A PredictionWriter per write (as a worker run would open it) and one PredictionReader."""
    settings = cosmos.model_copy(update={"cosmos": cosmos.cosmos.model_copy(update={"write_path": request.param})})

    def write(records: Sequence[PredictionRecord]) -> WriteReport:
        async def run() -> WriteReport:
            async with PredictionWriter(settings, policy=RetryPolicy(max_attempts=3)) as writer:
                sink: PredictionSink = writer
                return await sink.write(records)

        return asyncio.run(run())

    with PredictionReader.open(settings) as reader:
        yield Predictions(write=write, reader=reader)


@pytest.fixture
def alerts(cosmos: Settings) -> Iterator[AlertStorage]:
    """The alert store without a topic publisher (what it publishes is not part of the store's contract)."""
    with open_container(cosmos, ALERTS) as container:
        yield AlertStore(container, cosmos)


@pytest.fixture
def feedback(cosmos: Settings) -> Iterator[FeedbackStorage]:
    with FeedbackStore.open(cosmos) as store:
        yield store


class TestCosmosPredictions(PredictionStoreContract):
    pass


class TestCosmosAlerts(AlertStoreContract):
    pass


class TestCosmosFeedback(FeedbackStoreContract):
    pass
