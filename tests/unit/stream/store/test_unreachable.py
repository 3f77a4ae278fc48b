"""A store that is not there: clear errors for people, StoreUnavailable for the worker (no server needed)."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import free_port
from tweet_triage.errors import StoreError, StoreUnavailable
from tweet_triage.settings import load_settings
from tweet_triage.store.cosmos import client_options, container_specs
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.retry import Backoff, RetryNotice, RetryPolicy
from tweet_triage.store.writer import PredictionWriter


def test_reading_from_a_closed_port_says_what_to_do() -> None:
    settings = load_settings(stack={"cosmos_port": free_port()})
    with pytest.raises(StoreError, match=r"cannot reach Cosmos DB at http://127\.0\.0\.1:\d+.*triage stack up"):
        PredictionReader.open(settings).__enter__()


def test_a_key_that_is_not_base64_is_named() -> None:
    settings = load_settings(stack={"cosmos_port": free_port()}, cosmos={"key": "not-a-key!"})
    with pytest.raises(StoreError, match="TRIAGE_COSMOS__KEY"):
        PredictionReader.open(settings).__enter__()


def test_the_writer_gives_up_opening_after_its_retry_budget() -> None:
    settings = load_settings(stack={"cosmos_port": free_port()})
    notices: list[RetryNotice] = []

    async def no_wait(seconds: float) -> None:
        return None

    async def open_writer() -> None:
        policy = RetryPolicy(max_attempts=2, backoff=Backoff(initial_s=0.01, max_s=0.01), on_retry=notices.append)
        async with PredictionWriter(settings, policy=policy, sleep=no_wait):
            pass

    with pytest.raises(StoreUnavailable):
        asyncio.run(open_writer())
    assert len(notices) == 1 and notices[0].operation == "open the results store"


def test_http_endpoints_switch_endpoint_discovery_off_https_keep_it() -> None:
    assert client_options(load_settings())["enable_endpoint_discovery"] is False
    remote = load_settings(cosmos={"endpoint": "https://acct.documents.azure.com:443/"})
    assert "enable_endpoint_discovery" not in client_options(remote)


def test_container_names_come_from_settings_partition_keys_are_fixed() -> None:
    specs = container_specs(load_settings(cosmos={"predictions_container": "preds"}).cosmos)
    assert (specs["predictions"].name, specs["predictions"].partition_key) == ("preds", "/id")
    assert {spec.partition_key for spec in specs.values()} == {"/id", "/tweet_id"}
