"""The azure-cosmos background health check's "transport already closed" error is not shown; other records are."""

from __future__ import annotations

import logging

import pytest

import tweet_triage.store.cosmos  # noqa: F401 - installs the filter

SDK_LOGGER = "azure.cosmos._global_endpoint_manager"


def test_the_closed_transport_health_check_record_is_dropped_and_others_pass(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(SDK_LOGGER)
    with caplog.at_level(logging.ERROR, logger=SDK_LOGGER):
        logger.error("Health check task failed: %s", RuntimeError("HTTP transport has already been closed."))
        logger.error("Health check task failed: %s", RuntimeError("connection refused"))
    assert [r.getMessage() for r in caplog.records] == ["Health check task failed: connection refused"]
