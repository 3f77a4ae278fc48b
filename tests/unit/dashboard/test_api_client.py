"""The dashboard's API client against the real app (in-process transport) and against failures."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.unit.api.conftest import KEY, make_runtime
from tests.unit.api.fakes import RecordingPublisher, SwappableModel, WordScorer
from tweet_triage.api.app import create_app
from tweet_triage.api.schemas import FeedbackRequest
from tweet_triage.dashboard.api_client import ApiClient, ServiceUnavailable

FEEDBACK = FeedbackRequest(tweet_id="t-1", label="disaster", annotator="Ana", model_version="7", comment=None)


def client_for(model: SwappableModel, publisher: RecordingPublisher, key: str | None) -> ApiClient:
    test_client = TestClient(create_app(make_runtime(model, publisher)))
    return ApiClient(
        "http://api",
        api_key=SecretStr(key) if key else None,
        transport=test_client._transport,  # Starlette's in-process transport: the real app, no socket
    )


def test_explain_predict_feedback_and_status_through_the_real_app() -> None:
    publisher = RecordingPublisher()
    api = client_for(SwappableModel(WordScorer()), publisher, KEY)
    assert api.explain("flood trapped", None).label == "disaster"
    assert [p.label for p in api.predict(["fire and flood", "calm"])] == ["disaster", "not_disaster"]
    api.send_feedback(FEEDBACK)
    assert [e.tweet_id for e in publisher.events] == ["t-1"]
    status = api.model_status()
    assert status.ok and status.info is not None and status.info.version == "7"


def test_a_refused_write_carries_the_apis_own_words() -> None:
    api = client_for(SwappableModel(WordScorer()), RecordingPublisher(), None)
    with pytest.raises(ServiceUnavailable, match=r"needs an API key.*HTTP 401"):
        api.send_feedback(FEEDBACK)


def test_no_model_yet_is_a_status_not_an_error() -> None:
    status = client_for(SwappableModel(None), RecordingPublisher(), KEY).model_status()
    assert not status.ok and "starting" in status.message


def test_an_unapproved_production_move_is_shown_with_the_model_still_serving() -> None:
    model = SwappableModel(WordScorer(version="7"), problem="m production points at v9, which has no approval record")
    status = client_for(model, RecordingPublisher(), KEY).model_status()
    assert not status.ok and status.message.startswith("model change not approved: m production points at v9")
    assert status.info is not None and status.info.version == "7"


def test_an_unreachable_api_is_a_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api = ApiClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    with pytest.raises(ServiceUnavailable, match="not reachable"):
        api.explain("fire", None)
    assert "not reachable" in api.model_status().message
