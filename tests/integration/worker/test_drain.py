"""`triage stack down` drains first: with a worker running it waits until every published tweet is stored."""

from __future__ import annotations

import pytest

from tests.integration.worker.conftest import StreamEnv
from tweet_triage.app.drain import drain

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_drain_waits_for_a_running_worker_until_everything_is_stored(stream_env: StreamEnv) -> None:
    stream_env.start_worker()
    ids = [f"drain-{n}" for n in range(300)]
    stream_env.publish_tweets(ids)
    seen: list[tuple[int, int]] = []

    drain(stream_env.settings, timeout_s=180, on_progress=lambda done, total: seen.append((done, total)))

    assert {record.id for record in stream_env.stored()} >= set(ids)  # stored at the moment the drain returned
    assert seen and seen[-1][0] == seen[-1][1]  # the progress ended complete
