"""`triage dlq list | show | replay` against the real broker, store and worker.

The letters to replay are the ones an earlier worker wrote during a Cosmos DB outage ("refused by the results store",
HTTP 404): the very bug this version fixes. Replayed now, they are stored; replayed again, nothing changes.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import wait_until
from tests.integration.worker.conftest import StreamEnv
from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.contracts.dead_letters import DeadLetter
from tweet_triage.contracts.tweets import Rejection, RejectReason

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE = 50
BAD = [b"not json at all", b'{"id": "x/1", "text": "a slash in the id"}', b'{"id": "x-2"}']


def outage_letters(topic: str) -> list[tuple[bytes | None, bytes]]:
    """What the old worker sent to the dead-letter topic for good tweets while the store was away."""
    letters = []
    for i in range(OUTAGE):
        tweet_id = f"outage-{i:03d}"
        value = json.dumps({"id": tweet_id, "text": f"bridge closed by flood water, report {i}"}).encode()
        message = InboundMessage(topic, 0, 1000 + i, tweet_id.encode(), value, None)
        why = Rejection(RejectReason.STORE_REJECTED, "results store refused the item (status 404): Not Found")
        letters.append(DeadLetter.for_message(message, why, tweet_id=tweet_id).to_message())
    return letters


def replay(stream_env: StreamEnv, *args: str) -> dict[str, object]:
    result = stream_env.cli("dlq", "replay", "--json", *args)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_replay_after_the_fix_stores_the_tweets_and_a_second_replay_changes_nothing(stream_env: StreamEnv) -> None:
    kafka = stream_env.settings.kafka
    stream_env.start_worker()
    stream_env.publish([(None, value) for value in BAD])  # refused by this worker too, with their reasons
    stream_env.publish(outage_letters(kafka.topic_tweets), topic=kafka.topic_dlq)
    wait_until(lambda: len(stream_env.all_dead_letters()) == OUTAGE + len(BAD), timeout_s=120, what="all dead letters")

    listed = stream_env.cli("dlq", "list", "--reason", "store_rejected", "--json", "-n", "1000")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == OUTAGE and {row["reason"] for row in rows} == {"store_rejected"}
    shown = stream_env.cli("dlq", "show", str(rows[0]["id"]))
    assert shown.returncode == 0 and "store_rejected" in shown.stdout and "outage-" in shown.stdout

    first = replay(stream_env)
    assert first["sent"] == OUTAGE and first["already_stored"] == 0
    assert first["refused_again"] == {"not_json": 1, "invalid_id": 1, "missing_text": 1}
    stored = stream_env.wait_stored(OUTAGE)
    assert {r.id for r in stored} == {f"outage-{i:03d}" for i in range(OUTAGE)}
    snapshot = {r.id: r.model_dump() for r in stored}
    tweets_before = len(stream_env.topic_records(kafka.topic_tweets))

    second = replay(stream_env)
    assert second["sent"] == 0 and second["already_stored"] == OUTAGE
    assert second["refused_again"] == first["refused_again"] and second["new_verdicts_recorded"] == 0
    assert len(stream_env.topic_records(kafka.topic_tweets)) == tweets_before, "a second replay sends nothing"
    assert {r.id: r.model_dump() for r in stream_env.stored()} == snapshot
    assert len(stream_env.all_dead_letters()) == OUTAGE + len(BAD), "and writes no new letters"

    forced = replay(stream_env, "--force", "--reason", "store_rejected", "--limit", "5")
    assert forced["sent"] == 5  # the same tweet ids upsert the same predictions
    wait_until(
        lambda: len(stream_env.topic_records(kafka.topic_tweets)) == tweets_before + 5, timeout_s=60, what="resent"
    )
    assert {r.id for r in stream_env.stored()} == set(snapshot)
