"""GET /v1/review: the review queue over the store, behind an API key, with clear 4xx and 503 answers."""

from __future__ import annotations

import pytest

from tests.unit.api.conftest import KEY, Api
from tests.unit.stream.test_review import record
from tweet_triage.errors import StoreOutage

AUTH = {"Authorization": f"Bearer {KEY}"}


def test_the_queue_lists_the_least_certain_unlabelled_tweets_first(api: Api) -> None:
    api.review.records = [record("sure", 0.95, 0), record("edge", 0.02, 30), record("close", 0.1, 10)]
    api.review.labelled = {"close"}
    response = api.client.get("/v1/review", params={"limit": 5}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == ["edge", "sure"]
    assert body["items"][0]["margin"] == 0.02 and body["window"] == 100


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"X-API-Key": "wrong"}, 401)])
def test_the_queue_needs_an_api_key(api: Api, headers: dict[str, str], status: int) -> None:
    api.review.records = [record("edge", 0.02, 30)]
    response = api.client.get("/v1/review", headers=headers)
    assert response.status_code == status
    assert "API key" in response.json()["detail"]


@pytest.mark.parametrize("limit", ["0", "201", "ten"])
def test_a_bad_limit_is_a_422_that_names_it(api: Api, limit: str) -> None:
    response = api.client.get("/v1/review", params={"limit": limit}, headers=AUTH)
    assert response.status_code == 422
    assert "limit" in response.text


def test_an_unreachable_store_is_a_503_that_says_so_and_when_to_retry(api: Api) -> None:
    api.review.error = StoreOutage("the results store at http://127.0.0.1:1 cannot be reached")
    response = api.client.get("/v1/review", headers=AUTH)
    assert response.status_code == 503
    assert response.json()["detail"] == "the results store at http://127.0.0.1:1 cannot be reached"
    assert int(response.headers["Retry-After"]) > 0
