"""A store-wide outage pauses the stream; it never dead-letters good tweets. Against a Cosmos DB server of the test's
own, restarted under a worker mid-stream (the local server loses everything when it restarts)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.integration.worker.conftest import CosmosServer, StreamEnv

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


def test_a_cosmos_restart_mid_stream_dead_letters_nothing_and_every_tweet_is_stored_after_it(
    stream_env: StreamEnv, own_cosmos: CosmosServer
) -> None:
    worker = stream_env.start_worker()
    port = stream_env.ports[0]
    expected = ids("r", 600)
    stream_env.publish_tweets(expected)
    wait_until(lambda: len(stream_env.stored()) >= 100, timeout_s=120, what="the stream to be under way")

    # Freeze the worker for the restart, so what the old server held is known exactly; it resumes mid-batch and
    # its next upserts meet a server without the database (HTTP 404).
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        before = {r.id for r in stream_env.stored()}
        own_cosmos.restart()
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    assert 100 <= len(before) < len(expected), "the restart must fall mid-stream"

    rest = set(expected) - before  # those stored before died with the old server (the topics keep them: issue 13)
    wait_until(
        lambda: rest <= {r.id for r in stream_env.stored()}, timeout_s=180, what="every later tweet to be stored"
    )
    assert stream_env.all_dead_letters() == [], "a store outage must never dead-letter a tweet"
    assert worker.poll() is None
    assert stream_env.metric(port, 'triage_worker_store_retries_total{cause="404"}') >= 1
    assert stream_env.metric(port, 'triage_worker_dependency_outages_total{dependency="store"}') >= 1
    assert stream_env.health(port)["status"] == "ok"
    log = Path(stream_env.env["TRIAGE_STACK__STATE_DIR"], f"worker-{port}.log").read_text(errors="replace")
    assert "the database or a container was missing; re-created them" in log
    assert "results store unavailable" in log and "available again" in log
