"""The API's contract with fakes behind it: schema, limits, auth, clear 4xx bodies, hot swap, metrics."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.conftest import KEY, Api, make_runtime
from tests.unit.api.fakes import RecordingPublisher, SwappableModel, WordScorer
from tweet_triage.api.app import create_app
from tweet_triage.model.operating_point import OperatingPoint

AUTH = {"Authorization": f"Bearer {KEY}"}
FEEDBACK = {"tweet_id": "t-1", "label": "disaster", "annotator": "Ana", "model_version": "7"}


def test_predict_returns_label_confidence_probabilities_and_version(api: Api) -> None:
    response = api.client.post(
        "/v1/predict", json={"tweets": [{"id": "a", "text": "flood and fire here"}, {"text": "sunny day"}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "fake", "version": "7"}
    assert body["latency_ms"] >= 0
    first, second = body["predictions"]
    assert first["id"] == "a" and second["id"] is None
    assert first["label"] == "disaster" and first["confidence"] == pytest.approx(0.7)
    assert second["label"] == "not_disaster" and second["probabilities"]["disaster"] == pytest.approx(0.1)
    assert {p["model_version"] for p in body["predictions"]} == {"7"}


def test_predict_labels_at_the_models_operating_point_and_flags_other_languages(api: Api) -> None:
    api.model.scorer = WordScorer(point=OperatingPoint("f2", "disaster", 0.35, 0.7, 0.93, 0.8, 0.87, 500))
    texts = ["trapped here", "sunny day at the beach", "Ayuda, el río se desborda y hay familias atrapadas"]
    response = api.client.post("/v1/predict", json={"tweets": [{"text": t} for t in texts]})
    assert response.status_code == 200, response.text
    crossing, sunny, spanish = response.json()["predictions"]
    assert crossing["probabilities"]["disaster"] == pytest.approx(0.35)  # below 0.5, at the threshold
    assert crossing["label"] == "disaster" and crossing["confidence"] == pytest.approx(0.35)
    assert (crossing["threshold"], crossing["operating_point"]) == (0.35, "f2")
    assert sunny["label"] == "not_disaster" and sunny["confidence"] == pytest.approx(0.9)
    assert (sunny["language"], sunny["out_of_scope"]) == ("en", False)
    assert (spanish["language"], spanish["out_of_scope"]) == ("es", True)


def test_explain_returns_one_weight_per_word(api: Api) -> None:
    text = "flood trapped near school"
    response = api.client.post("/v1/explain", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "word-occlusion"
    assert body["label"] == "disaster"
    assert [w["word"] for w in body["words"]] == ["flood", "trapped", "near", "school"]
    assert [w["weight"] for w in body["words"]] == pytest.approx([0.3, 0.25, 0.0, 0.0])
    assert all(text[w["start"] : w["end"]] == w["word"] for w in body["words"])


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/v1/predict", {"tweets": []}, "tweets: List should have at least 1 item"),
        ("/v1/predict", {"tweets": [{"text": "x"}] * 9}, "at most 8 tweets per request"),
        ("/v1/predict", {"tweets": [{"text": "x" * 301}]}, "tweets.0.text has 301 characters, more than 300"),
        ("/v1/predict", {"tweets": [{"text": "   "}]}, "tweets.0.text: must not be blank"),
        ("/v1/predict", {"tweets": [{"txt": "typo"}]}, "tweets.0.text: required field is missing"),
        ("/v1/predict", {"tweets": [{"text": "ok", "colour": 1}]}, "tweets.0.colour: unknown field"),
        ("/v1/predict", {"texts": ["old shape"]}, "tweets: required field is missing"),
        ("/v1/explain", {"text": ""}, "text: String should have at least 1 character"),
        ("/v1/explain", {"text": 42}, "text: Input should be a valid string"),
    ],
)
def test_bad_requests_get_422_saying_what_was_wrong(api: Api, path: str, body: Any, fragment: str) -> None:
    response = api.client.post(path, json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"content": b'{"tweets": []}', "headers": {"Content-Type": "text/plain"}}, "must be a JSON object"),
        ({"json": [1, 2]}, "must be a JSON object"),
        ({}, "the request has no body"),
    ],
)
def test_a_body_of_the_wrong_kind_is_refused_clearly(api: Api, kwargs: dict[str, Any], fragment: str) -> None:
    response = api.client.post("/v1/predict", **kwargs)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_a_body_that_is_not_json_is_refused_clearly(api: Api) -> None:
    response = api.client.post("/v1/predict", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_a_body_over_the_size_limit_gets_413_before_parsing(api: Api) -> None:
    big = b'{"tweets": [{"text": "' + b"a" * 20_000 + b'"}]}'
    response = api.client.post("/v1/predict", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "limit of 16384 bytes" in response.json()["detail"]


def test_a_chunked_body_over_the_limit_is_cut_off(api: Api) -> None:
    def chunks() -> Any:
        yield b'{"tweets": [{"text": "'
        for _ in range(40):
            yield b"a" * 1000
        yield b'"}]}'

    response = api.client.post("/v1/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        ({}, 401, "needs an API key"),
        ({"Authorization": "Bearer wrong"}, 401, "not valid"),
        ({"X-API-Key": "wrong"}, 401, "not valid"),
        ({"Authorization": f"Basic {KEY}"}, 401, "needs an API key"),
    ],
)
def test_feedback_refuses_requests_without_a_valid_key(
    api: Api, headers: dict[str, str], status: int, fragment: str
) -> None:
    response = api.client.post("/v1/feedback", json=FEEDBACK, headers=headers)
    assert response.status_code == status
    assert fragment in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.publisher.events == []


@pytest.mark.parametrize("headers", [AUTH, {"X-API-Key": KEY}])
def test_feedback_with_a_key_is_published(api: Api, headers: dict[str, str]) -> None:
    response = api.client.post("/v1/feedback", json={**FEEDBACK, "comment": "seen it"}, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "tweet_id": "t-1", "topic": "tweets-feedback"}
    [event] = api.publisher.events
    assert (event.tweet_id, event.label, event.annotator, event.model_version, event.comment) == (
        "t-1",
        "disaster",
        "Ana",
        "7",
        "seen it",
    )
    assert event.labelled_at.tzinfo is not None


def test_feedback_label_must_be_one_of_the_models_labels(api: Api) -> None:
    response = api.client.post("/v1/feedback", json={**FEEDBACK, "label": "maybe"}, headers=AUTH)
    assert response.status_code == 422
    assert "label must be one of not_disaster, disaster" in response.json()["detail"]


def test_feedback_tweet_id_must_be_storable(api: Api) -> None:
    response = api.client.post("/v1/feedback", json={**FEEDBACK, "tweet_id": "a/b"}, headers=AUTH)
    assert response.status_code == 422
    assert "tweet_id" in response.json()["detail"]


def test_feedback_is_disabled_when_no_keys_are_configured() -> None:
    publisher = RecordingPublisher()
    with TestClient(create_app(make_runtime(SwappableModel(WordScorer()), publisher, keys=""))) as client:
        response = client.post("/v1/feedback", json=FEEDBACK, headers=AUTH)
    assert response.status_code == 403
    assert "TRIAGE_API__KEYS" in response.json()["detail"]
    assert publisher.events == []


def test_an_unreachable_feedback_topic_is_a_503_that_says_try_again(api: Api) -> None:
    api.publisher.broken = True
    response = api.client.post("/v1/feedback", json=FEEDBACK, headers=AUTH)
    assert response.status_code == 503
    assert "try again" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


def test_without_a_model_scoring_is_503_and_not_ready_but_healthy() -> None:
    with TestClient(create_app(make_runtime(SwappableModel(None), RecordingPublisher()))) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/predict", json={"tweets": [{"text": "fire"}]})
        assert response.status_code == 503
        assert "no production model" in response.json()["detail"]
        assert response.headers["Retry-After"] == "5"


def test_a_swapped_model_answers_the_next_request(api: Api) -> None:
    assert api.client.get("/readyz").json() == {"status": "ready", "model_version": "7", "detail": None}
    api.model.scorer = WordScorer(version="8")
    response = api.client.post("/v1/predict", json={"tweets": [{"text": "fire"}]})
    assert response.json()["predictions"][0]["model_version"] == "8"
    assert api.client.get("/v1/model").json()["version"] == "8"


def test_openapi_documents_the_configured_limits_auth_and_examples(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]
    assert components["schemas"]["PredictRequest"]["properties"]["tweets"]["maxItems"] == 8
    assert components["schemas"]["TweetIn"]["properties"]["text"]["maxLength"] == 300
    assert components["schemas"]["PredictRequest"]["examples"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(components["securitySchemes"])
    assert "security" in schema["paths"]["/v1/feedback"]["post"]
    assert (
        "security" in schema["paths"]["/v1/predict"]["post"]
    )  # a key is accepted, and required where reads are protected


def test_metrics_count_requests_by_route_and_status(api: Api) -> None:
    api.client.post("/v1/predict", json={"tweets": [{"text": "fire"}, {"text": "calm"}]})
    api.client.post("/v1/feedback", json=FEEDBACK)
    text = api.client.get("/metrics").text
    assert 'triage_api_requests_total{route="/v1/predict",status="200"} 1.0' in text
    assert 'triage_api_requests_total{route="/v1/feedback",status="401"} 1.0' in text
    assert "triage_api_tweets_scored_total 2.0" in text
