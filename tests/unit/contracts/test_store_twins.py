"""The results store's contract (tests/contracts/stores.py) against the in-memory twins the unit tests use."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.contracts.stores import AlertStoreContract, FeedbackStoreContract, Predictions, PredictionStoreContract
from tests.twins.stores import AlertStoreTwin, FeedbackStoreTwin, PredictionStoreTwin
from tweet_triage.monitoring.alerts.store import AlertStorage
from tweet_triage.monitoring.feedback_store import FeedbackStorage
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.writer import PredictionSink, WriteReport


@pytest.fixture
def predictions() -> Predictions:
    twin = PredictionStoreTwin()
    sink: PredictionSink = twin

    def write(records: Sequence[PredictionRecord]) -> WriteReport:
        return asyncio.run(sink.write(records))

    return Predictions(write=write, reader=twin)


@pytest.fixture
def alerts() -> AlertStorage:
    return AlertStoreTwin()


@pytest.fixture
def feedback() -> FeedbackStorage:
    return FeedbackStoreTwin()


class TestPredictionStoreTwin(PredictionStoreContract):
    pass


class TestAlertStoreTwin(AlertStoreContract):
    pass


class TestFeedbackStoreTwin(FeedbackStoreContract):
    pass
