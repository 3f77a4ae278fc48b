"""schemathesis against the API with a fake model: no 5xx, every answer as documented."""

from __future__ import annotations

from tests.fuzz import fuzz_asgi_app
from tests.unit.api.conftest import KEY, make_runtime
from tests.unit.api.fakes import RecordingPublisher, SwappableModel, WordScorer
from tweet_triage.api.app import create_app


def test_generated_requests_never_get_a_server_error() -> None:
    app = create_app(make_runtime(SwappableModel(WordScorer()), RecordingPublisher()))
    exercised = fuzz_asgi_app(app, headers=[{}, {"X-API-Key": KEY}], max_examples=40)
    assert {"POST /v1/predict", "POST /v1/explain", "POST /v1/feedback", "GET /v1/model"} <= set(exercised)
