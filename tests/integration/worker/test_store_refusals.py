"""A store that refuses every write for a while (a broken proxy, an API-version or permission problem answering 400)
is waited for like an outage: nothing is dead-lettered, everything is stored once it answers again."""

from __future__ import annotations

import time

import pytest

from tests.helpers import wait_until
from tests.integration.refusing_proxy import RefusingProxy
from tests.integration.worker.conftest import StreamEnv

pytestmark = pytest.mark.integration

REFUSING_FOR_S = 30


def test_a_store_answering_400_to_everything_pauses_the_stream_and_dead_letters_nothing(stream_env: StreamEnv) -> None:
    expected = [f"r-{i:04d}" for i in range(200)]
    with RefusingProxy(stream_env.settings.stack.cosmos_port).running() as proxy:
        stream_env.use_cosmos(proxy.port)  # the worker (and this test's reads) go through the proxy
        worker = stream_env.start_worker()
        port = stream_env.ports[0]
        stream_env.publish_tweets(expected[:50])
        stream_env.wait_stored(50)

        proxy.refusing.set()
        began = time.monotonic()
        try:
            stream_env.publish_tweets(expected[50:])
            wait_until(
                lambda: (
                    time.monotonic() - began >= REFUSING_FOR_S
                    and stream_env.metric(port, 'triage_worker_store_retries_total{cause="400"}') >= 3
                ),
                timeout_s=REFUSING_FOR_S + 120,
                what="the worker to retry the refused writes for the whole refusal",
            )
            assert proxy.refused > 0 and worker.poll() is None
            assert stream_env.health(port)["status"] == "store_unavailable"  # alive, waiting on purpose
        finally:
            proxy.refusing.clear()

        stored = stream_env.wait_stored(len(expected), timeout_s=180)
        assert sorted(r.id for r in stored) == expected
        assert worker.poll() is None
        assert stream_env.all_dead_letters() == []
