"""No single message stops the stream: the hostile corpus mixed into 1,000 good tweets, against the real worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import hostile_corpus
from tests.hostile_corpus import STORED
from tests.integration.worker.conftest import Outgoing, StreamEnv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD = 1_000


def test_the_hostile_corpus_among_1000_good_tweets_every_good_tweet_stored_every_bad_one_dead_lettered(
    stream_env: StreamEnv,
) -> None:
    worker = stream_env.start_worker()
    port = stream_env.ports[0]
    corpus = hostile_corpus.corpus()
    bad = [h for h in corpus if h.expect != STORED]
    good_ids = [f"good-{i:04d}" for i in range(GOOD)]
    messages: list[Outgoing] = []
    hostile = iter(corpus)
    for i, tweet_id in enumerate(good_ids):
        body = {"id": tweet_id, "text": f"flood water rising near the bridge, street {i}"}
        messages.append(Outgoing(tweet_id.encode(), json.dumps(body).encode()))
        if i % 12 == 5 and (h := next(hostile, None)) is not None:
            messages.append(Outgoing(h.key, h.value, h.headers, h.timestamp_ms))
    messages += [Outgoing(h.key, h.value, h.headers, h.timestamp_ms) for h in hostile]
    stream_env.publish_messages(messages)

    expected_ids = set(good_ids) | {h.tweet_id for h in corpus if h.expect == STORED}
    stored = stream_env.wait_stored(len(expected_ids), timeout_s=300)
    assert {r.id for r in stored} == expected_ids

    letters = {}
    for letter in stream_env.all_dead_letters():
        letters[(letter.raw_sha256, letter.key_sha256)] = letter
    assert len(letters) == len(bad)
    for h in bad:
        letter = letters[h.fingerprint]
        assert letter.reason == h.expect, h.kind
        assert letter.topic == stream_env.settings.kafka.topic_tweets and letter.message
        assert letter.raw_size == len(h.value or b"")
        assert letter.key_size == len(h.key or b"")
    assert worker.poll() is None, "the worker must survive every message"
    log = Path(stream_env.env["TRIAGE_STACK__STATE_DIR"], f"worker-{port}.log").read_text(errors="replace")
    assert "exiting without committing" not in log
    assert stream_env.metric(port, "triage_worker_dead_letters_total") == len(bad)
