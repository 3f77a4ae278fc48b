"""The scoring API as a real server process, with the session's quick-profile model from the local MLflow registry."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import httpx
import pytest

from tests.fuzz import fuzz_asgi_app
from tests.helpers import wait_until
from tests.integration.conftest import register_copies
from tests.integration.serving import API_KEY, Server, ServingEnv, api_over
from tweet_triage.api.app import create_app, runtime_from_settings
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.settings import Settings
from tweet_triage.training.pipeline import PipelineResult
from tweet_triage.training.promotion import promote

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TWEETS = [
    "Forest fire near La Ronge Sask. Canada",
    "All residents asked to 'shelter in place' are being notified by officers",
    "13,000 people receive #wildfires evacuation orders in California",
    "I love fruits",
    "my new mixtape is fire",
]
LONG_TWEET = (
    "URGENT: flood waters rising fast on Main Street, families trapped on roofs near the old bridge, the shelter at "
    "the school is full, roads to the hospital are cut off and we need boats and drinking water now please share!!"
)


def test_predict_returns_the_production_models_labels(serving: ServingEnv, api_server: Server) -> None:
    version = Registry(serving.settings).get(PRODUCTION).version
    body = {"tweets": [{"id": f"t{i}", "text": t} for i, t in enumerate(TWEETS)]}
    response = httpx.post(f"{api_server.url}/v1/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"]["version"] == version
    assert [p["id"] for p in answer["predictions"]] == [f"t{i}" for i in range(len(TWEETS))]
    for prediction in answer["predictions"]:
        assert set(prediction["probabilities"]) == {"not_disaster", "disaster"}
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert prediction["confidence"] == prediction["probabilities"][prediction["label"]]
        threshold = prediction["threshold"]  # the package's operating point decides
        assert prediction["operating_point"] == "f2" and threshold is not None
        assert (prediction["label"] == "disaster") == (prediction["probabilities"]["disaster"] >= threshold)
        assert prediction["model_version"] == version
    alone = httpx.post(f"{api_server.url}/v1/predict", json={"tweets": [body["tweets"][2]]}, timeout=30).json()
    assert alone["predictions"][0]["probabilities"] == pytest.approx(
        answer["predictions"][2]["probabilities"], abs=1e-5
    )


def test_explain_has_one_weight_per_word_within_a_second(api_server: Server) -> None:
    url = f"{api_server.url}/v1/explain"
    httpx.post(url, json={"text": TWEETS[0]}, timeout=30).raise_for_status()  # warm-up
    timings, answer = [], {}
    for _ in range(5):
        started = time.perf_counter()
        response = httpx.post(url, json={"text": LONG_TWEET}, timeout=30)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        answer = response.json()
    words = LONG_TWEET.split()
    assert [w["word"] for w in answer["words"]] == words
    assert all(LONG_TWEET[w["start"] : w["end"]] == w["word"] for w in answer["words"])
    assert answer["method"] == "word-occlusion"
    assert any(abs(w["weight"]) > 1e-3 for w in answer["words"]), "some word must move the score"
    assert statistics.median(timings) <= 1.0, f"explain took {timings} s for a {len(words)}-word tweet"


def test_model_endpoint_shows_metrics_lineage_and_approval(serving: ServingEnv, api_server: Server) -> None:
    answer = httpx.get(f"{api_server.url}/v1/model", headers={"X-API-Key": API_KEY}, timeout=30).json()
    assert answer["version"] == Registry(serving.settings).get(PRODUCTION).version
    assert sorted(answer["labels"]) == ["disaster", "not_disaster"]
    assert 0 < answer["metrics"]["f1"] <= 1
    assert answer["tags"]["dataset.version"]
    assert answer["tags"]["operating_point.policy"] == "f2" and answer["tags"]["languages"] == "en"
    assert 0 < float(answer["tags"]["operating_point.threshold"]) < 1
    assert answer["approvals"][-1]["approver"] == "tests"
    assert answer["approvals"][-1]["action"] == "promote"
    anonymous = httpx.get(f"{api_server.url}/v1/model", timeout=30).json()
    assert anonymous["approvals"][-1]["approver"] is None, "approvers' names only for callers with a key"


def test_feedback_needs_a_key_and_reaches_the_feedback_topic(serving: ServingEnv, api_server: Server) -> None:
    url = f"{api_server.url}/v1/feedback"
    body = {"tweet_id": "t-42", "label": "disaster", "annotator": "Ana", "model_version": "1"}
    refused = httpx.post(url, json=body, timeout=10)
    assert refused.status_code == 401
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    accepted = httpx.post(url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert accepted.status_code == 202, accepted.text
    [event] = serving.feedback_events(1)
    assert (event.tweet_id, event.label, event.annotator, event.model_version) == ("t-42", "disaster", "Ana", "1")


def test_limits_and_health(api_server: Server) -> None:
    too_many = {"tweets": [{"text": "x"}] * 65}
    response = httpx.post(f"{api_server.url}/v1/predict", json=too_many, timeout=10)
    assert response.status_code == 422 and "at most 64 tweets" in response.json()["detail"]
    huge = b'{"tweets": [{"text": "' + b"a" * 300_000 + b'"}]}'
    response = httpx.post(
        f"{api_server.url}/v1/predict", content=huge, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413
    assert httpx.get(f"{api_server.url}/healthz", timeout=5).json() == {
        "status": "ok",
        "model_version": None,
        "detail": None,
    }
    assert "triage_api_requests_total" in httpx.get(f"{api_server.url}/metrics", timeout=5).text


def test_production_model_hot_swaps_without_a_restart_or_a_failed_request(
    local_stack: Settings, first_candidate: PipelineResult, registry: Registry, training_settings: Settings
) -> None:
    name = "tweet-triage-api-swap-test"
    first, second = register_copies(first_candidate, registry, training_settings, name)
    with api_over(local_stack, name) as (serving, server):
        versions: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                while not stop.is_set():
                    response = client.post("/v1/predict", json={"tweets": [{"text": TWEETS[0]}]})
                    if response.status_code != 200:
                        failures.append(response.text)
                    else:
                        versions.append(response.json()["model"]["version"])

        caller = threading.Thread(target=keep_asking)
        caller.start()
        try:
            wait_until(lambda: first in versions, timeout_s=30, what=f"v{first} answering")
            target = Registry(serving.settings)
            promote(
                target, ApprovalLog.beside(target), version=second, approver="tests", reason="swap", override_reason="q"
            )
            wait_until(lambda: versions[-1] == second, timeout_s=60, what=f"v{second} answering after promotion")
        finally:
            stop.set()
            caller.join()
        assert failures == []
        assert server.proc.poll() is None, "the same process answered before and after the swap"
        assert versions.index(second) > versions.index(first)
        assert set(versions[versions.index(second) :]) == {second}, "no flapping back to the old version"
        ready = httpx.get(f"{server.url}/readyz", timeout=5).json()
        assert ready == {"status": "ready", "model_version": second, "detail": None}


def test_a_production_move_without_approval_is_not_followed_and_raises_an_alert(
    local_stack: Settings, first_candidate: PipelineResult, registry: Registry, training_settings: Settings
) -> None:
    name = "tweet-triage-api-unapproved-test"
    approved, unapproved = register_copies(first_candidate, registry, training_settings, name)
    with api_over(local_stack, name) as (serving, server):
        from mlflow.tracking import MlflowClient

        plain = MlflowClient(serving.settings.mlflow_tracking_uri)  # anyone who can reach MLflow
        plain.set_registered_model_alias(name, PRODUCTION, unapproved)

        def readiness() -> dict[str, Any] | None:
            response = httpx.get(f"{server.url}/readyz", timeout=5)
            return response.json() if response.status_code == 503 else None

        body = wait_until(readiness, timeout_s=30, what="the API to report the unapproved move")
        assert body is not None
        assert body["status"] == "unapproved" and body["model_version"] == approved
        assert f"points at v{unapproved}, which has no approval record; still serving v{approved}" in body["detail"]
        for _ in range(3):
            answer = httpx.post(f"{server.url}/v1/predict", json={"tweets": [{"text": TWEETS[0]}]}, timeout=30)
            assert answer.status_code == 200 and answer.json()["model"]["version"] == approved

        def alert() -> Alert | None:
            with AlertStore.open(serving.settings, create=True) as store:
                found = store.recent(kind="unapproved")
            return found[0] if found else None

        raised = wait_until(alert, timeout_s=30, what="an unapproved-move alert")
        assert raised is not None
        assert raised.model_version == unapproved and raised.severity == "critical"
        assert f"production points at v{unapproved} without an approval record" in raised.title
        assert f"approval log approves v{approved}" in raised.summary and raised.details["seen_by"] == "scoring API"

        target = Registry(serving.settings)
        promote(
            target,
            ApprovalLog.beside(target),
            version=unapproved,
            approver="ana",
            reason="the move was right",
            override_reason="quick profile",
        )
        wait_until(lambda: _ready_version(server.url) == unapproved, timeout_s=30, what="the approved move followed")


def _ready_version(url: str) -> str | None:
    response = httpx.get(f"{url}/readyz", timeout=5)
    return response.json()["model_version"] if response.status_code == 200 else None


def test_generated_requests_never_get_a_server_error(serving: ServingEnv) -> None:
    """schemathesis against the real app (real model, real feedback topic), in-process."""

    runtime = runtime_from_settings(serving.settings)
    assert runtime.refresh is not None
    runtime.refresh()
    assert runtime.model.ready
    exercised = fuzz_asgi_app(create_app(runtime), headers=[{}, {"X-API-Key": API_KEY}], max_examples=25)
    assert "POST /v1/predict" in exercised and "POST /v1/feedback" in exercised
