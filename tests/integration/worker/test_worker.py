"""The stream worker's guarantees, end to end against the real local services."""

from __future__ import annotations

import json
import os
import signal

import httpx
import psutil
import pytest

from tests.helpers import wait_until
from tests.integration.worker.conftest import StreamEnv, StreamModels
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.training.promotion import promote, rollback

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


def production_and_other(stream_env: StreamEnv, stream_models: StreamModels) -> tuple[Registry, str, str]:
    """Start a worker; the registry, the production version it serves and the other registered version."""
    registry = Registry(stream_env.settings)
    production = registry.get(PRODUCTION).version
    other = stream_models.second if production == stream_models.first else stream_models.first
    stream_env.start_worker()
    return registry, production, other


def test_every_tweet_is_stored_once_with_its_model_version(stream_env: StreamEnv) -> None:
    stream_env.start_worker()
    expected = ids("t", 200)
    stream_env.publish_tweets(expected)
    stored = stream_env.wait_stored(len(expected))
    assert sorted(r.id for r in stored) == expected
    version = Registry(stream_env.settings).get(PRODUCTION).version
    assert {r.model_version for r in stored} == {version}
    assert all(r.label in r.probabilities and r.confidence == r.probabilities[r.label] for r in stored)
    # labelled at the package's operating point, which every record names
    assert {(r.threshold, r.operating_point) for r in stored} == {(stored[0].threshold, "f2")}
    assert stored[0].threshold is not None
    assert all((r.label == "disaster") == (r.probabilities["disaster"] >= stored[0].threshold) for r in stored)


def test_the_worker_folds_copies_into_one_story_and_records_places(stream_env: StreamEnv) -> None:
    stream_env.start_worker()
    tweets = [
        {"id": "s-orig", "text": "Bridge collapsed on the river road, cars in the water"},
        {"id": "s-rt", "text": "RT @citydesk: Bridge collapsed on the river road, cars in the water http://t.co/x"},
        {"id": "s-quake", "text": "Buildings down after the earthquake in Kathmandu, Nepal"},
        {"id": "s-profile", "text": "power is out on our street", "location": "Austin, TX"},
    ]
    stream_env.publish([(t["id"].encode(), json.dumps(t).encode()) for t in tweets])
    stored = {r.id: r for r in stream_env.wait_stored(len(tweets))}
    assert stored["s-orig"].story_id == stored["s-rt"].story_id != stored["s-quake"].story_id
    quake, profile = stored["s-quake"].place, stored["s-profile"].place
    assert quake is not None and (quake.label, quake.source) == ("Kathmandu, NP", "text")
    assert profile is not None and (profile.label, profile.source) == ("Austin, TX, US", "profile")
    assert stored["s-orig"].place is None
    assert all(r.margin is not None and 0 <= r.margin <= 1 for r in stored.values())


MALFORMED: list[tuple[str, bytes | None, bytes]] = [  # (reason, key, value)
    ("key_mismatch", b"not-m-7", b'{"id": "m-7", "text": "a key that is not the id"}'),
    ("not_json", None, b"this is not json"),
    ("not_an_object", None, b'["an", "array"]'),
    ("missing_id", None, b'{"text": "no id here"}'),
    ("missing_text", None, b'{"id": "m-1"}'),
    ("blank_text", None, b'{"id": "m-2", "text": "   "}'),
    ("text_too_long", None, json.dumps({"id": "m-3", "text": "x" * 5000}).encode()),
    ("id_wrong_type", None, b'{"id": 12345, "text": "numeric id"}'),
    ("text_wrong_type", None, b'{"id": "m-4", "text": 42}'),
    ("not_utf8", None, b'{"id": "m-5", "text": "\xff\xfe bad bytes"}'),
    ("payload_too_large", None, b'{"id": "m-6", "text": "' + b"y" * 70_000 + b'"}'),
    ("empty", None, b""),
]


def test_malformed_events_go_to_the_dlq_with_reasons_and_the_stream_goes_on(stream_env: StreamEnv) -> None:
    worker = stream_env.start_worker()
    valid = ids("v", 50)
    messages: list[tuple[bytes | None, bytes]] = []
    for i, tweet_id in enumerate(valid):
        messages.append((tweet_id.encode(), json.dumps({"id": tweet_id, "text": f"smoke over the hills {i}"}).encode()))
        if i < len(MALFORMED):
            messages.append(MALFORMED[i][1:])
    stream_env.publish(messages)

    stored = stream_env.wait_stored(len(valid))
    assert sorted(r.id for r in stored) == valid
    letters = stream_env.dead_letters(len(MALFORMED))
    assert sorted(str(letter["reason"]) for letter in letters) == sorted(reason for reason, _, _ in MALFORMED)
    for letter in letters:
        assert letter["topic"] == stream_env.settings.kafka.topic_tweets
        assert isinstance(letter["partition"], int) and isinstance(letter["offset"], int)
        assert letter["message"]
    assert worker.poll() is None, "the worker must survive bad input"
    assert stream_env.metric(stream_env.ports[0], "triage_worker_dead_letters_total") == len(MALFORMED)


def test_a_worker_killed_mid_replay_loses_nothing(stream_env: StreamEnv) -> None:
    first = stream_env.start_worker()
    stream_env.start_worker()
    expected = ids("k", 600)
    stream_env.publish_tweets(expected[:300])
    wait_until(lambda: len(stream_env.stored()) >= 50, timeout_s=60, what="the replay to be under way")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    stream_env.publish_tweets(expected[300:])
    stored = stream_env.wait_stored(len(expected), timeout_s=180)
    assert sorted(r.id for r in stored) == expected  # every tweet exactly once: re-deliveries were upserted away


def test_a_worker_killed_with_batches_in_flight_stores_every_tweet_exactly_once(stream_env: StreamEnv) -> None:
    """One worker, small batches and a backlog, so at the kill one batch is being scored while the one before it is
    being stored and published; the restarted worker re-delivers from the last committed offset."""
    expected = ids("p", 1500)
    stream_env.publish_tweets(expected)
    worker = stream_env.start_worker("--batch-size", "16")
    wait_until(lambda: len(stream_env.stored()) >= 100, timeout_s=60, what="the backlog to be under way")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    stored_at_kill = len(stream_env.stored())
    assert stored_at_kill < len(expected), "the kill came too late to catch batches in flight"

    stream_env.start_worker("--batch-size", "16")
    stored = stream_env.wait_stored(len(expected), timeout_s=180)
    assert sorted(r.id for r in stored) == expected  # one item per tweet, none missing
    scored = {
        json.loads(r.value or b"{}").get("id") for r in stream_env.topic_records(stream_env.settings.kafka.topic_scored)
    }
    assert scored == set(expected)  # every tweet also reached the monitor's topic (re-deliveries at most twice)
    assert stream_env.all_dead_letters() == []


def test_results_store_outage_pauses_the_stream_and_loses_nothing(stream_env: StreamEnv) -> None:
    worker = stream_env.start_worker()
    port = stream_env.ports[0]
    expected = ids("c", 300)
    stream_env.publish_tweets(expected[:100])
    stream_env.wait_stored(100)
    cosmos = _cosmos_process(stream_env)
    cosmos.suspend()
    try:
        stream_env.publish_tweets(expected[100:])
        wait_until(
            lambda: stream_env.metric(port, "triage_worker_store_retries_total") >= 2,
            timeout_s=90,
            what="the worker to notice the outage and retry",
        )
        health = stream_env.health(port)
        assert health["status"] == "store_unavailable"  # alive (HTTP 200), waiting on purpose
        assert isinstance(health["store"], dict) and health["store"]["available"] is False
        assert stream_env.metric(port, 'triage_worker_dependency_available{dependency="store"}') == 0
        assert worker.poll() is None
    finally:
        cosmos.resume()
    stored = stream_env.wait_stored(len(expected), timeout_s=180)
    assert sorted(r.id for r in stored) == expected
    assert worker.poll() is None, "the worker must ride out the outage"
    wait_until(lambda: stream_env.health(port).get("status") == "ok", timeout_s=30, what="the health to recover")
    assert stream_env.all_dead_letters() == []


def _cosmos_process(stream_env: StreamEnv) -> psutil.Process:
    port = stream_env.settings.stack.cosmos_port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return psutil.Process(conn.pid)
    raise AssertionError(f"no process listens on the Cosmos port {port}")


def test_moving_the_production_alias_mid_replay_swaps_the_model(
    stream_env: StreamEnv, stream_models: StreamModels
) -> None:
    registry, old, new = production_and_other(stream_env, stream_models)
    port = stream_env.ports[0]
    before, after = ids("a", 150), ids("b", 150)
    stream_env.publish_tweets(before)
    stream_env.wait_stored(len(before))
    promote(
        registry,
        ApprovalLog.beside(registry),
        version=new,
        approver="tests",
        reason="swap test",
        override_reason="quick profile",
    )
    try:
        wait_until(
            lambda: stream_env.health(port).get("model_version") == new,
            timeout_s=60,
            what="the worker to serve the new version",
        )
        stream_env.publish_tweets(after)
        stored = {r.id: r for r in stream_env.wait_stored(len(before) + len(after))}
    finally:  # the stream model is shared by the session's worker tests: put production back
        rollback(registry, ApprovalLog.beside(registry), approver="tests", reason="undo the swap test")
    assert sorted(stored) == sorted(before + after)
    assert {r.model_version for r in stored.values()} <= {old, new}
    assert {stored[i].model_version for i in before} == {old}
    assert {stored[i].model_version for i in after} == {new}
    assert stream_env.metric(port, "triage_worker_model_swaps_total") == 1


def test_a_production_move_without_approval_is_not_followed_and_raises_an_alert(
    stream_env: StreamEnv, stream_models: StreamModels
) -> None:
    registry, approved, unapproved = production_and_other(stream_env, stream_models)
    port = stream_env.ports[0]
    try:
        from mlflow.tracking import MlflowClient

        MlflowClient(stream_env.settings.mlflow_tracking_uri).set_registered_model_alias(
            registry.name, PRODUCTION, unapproved
        )
        wait_until(
            lambda: stream_env.health(port).get("status") == "unapproved",
            timeout_s=60,
            what="the worker to report the unapproved move",
        )
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 503 and f"points at v{unapproved}" in ready.json()["detail"]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200  # alive: no restarts
        tweets = ids("u", 40)
        stream_env.publish_tweets(tweets)
        stored = stream_env.wait_stored(len(tweets))
        assert {r.model_version for r in stored} == {approved}, "scored with the approved model only"

        def alert() -> list[Alert]:
            with AlertStore.open(stream_env.settings, create=True) as store:
                return store.recent(kind="unapproved")

        [raised] = wait_until(alert, timeout_s=30, what="an unapproved-move alert")
        assert raised.model_version == unapproved and raised.details["seen_by"] == "stream worker"
    finally:
        rollback(registry, ApprovalLog.beside(registry), approver="tests", reason="undo the unapproved move")
    assert registry.get(PRODUCTION).version == approved
