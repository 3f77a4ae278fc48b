"""Every TriageError a request raises is answered with the status of its kind, in the same Problem body.

usage → 400, not found → 404, unavailable → 503 with Retry-After, failed → 500 whose body keeps the cause to the log.
"""

from __future__ import annotations

import logging
import re

import pytest

from tests.unit.api.conftest import KEY, Api
from tweet_triage.api.feedback_publisher import FeedbackUnavailable
from tweet_triage.api.schemas import ModelInfoOut
from tweet_triage.errors import (
    AlertNotFound,
    ContainerMissing,
    DataError,
    InvalidMessage,
    ItemRefused,
    ModelError,
    ModelNotFound,
    PublishError,
    RegistryUnavailable,
    SettingsError,
    StoreOutage,
    StoreUnavailable,
    TriageError,
    UsageError,
)
from tweet_triage.model.approval_gate import UnapprovedModel

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UsageError("limit must be a number"), 400),
        (SettingsError("TRIAGE_COSMOS__KEY is not set"), 400),
        (InvalidMessage("not a feedback event"), 400),
        (ModelNotFound("model 'fake' has no version 9"), 404),
        (AlertNotFound("no alert 'a1'"), 404),
        (RegistryUnavailable("cannot read the registry"), 503),
        (StoreOutage("cannot reach Cosmos DB"), 503),
        (ContainerMissing("no container 'predictions'"), 503),
        (StoreUnavailable("the store did not accept writes", attempts=3, pending=1), 503),
        (PublishError("the broker is away"), 503),
        (FeedbackUnavailable("the feedback topic is down"), 503),
        (ItemRefused("the store refused the item", status=400), 500),
        (ModelError("version 9 is invalid"), 500),
        (DataError("the dataset is corrupt"), 500),
        (UnapprovedModel("production moved without approval"), 500),
        (TriageError("something went wrong"), 500),
    ],
)
def test_each_kind_of_error_gets_its_status(api: Api, error: TriageError, status: int) -> None:
    api.review.error = error
    response = api.client.get("/v1/review", headers=AUTH)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"detail", "errors"}
    assert ("Retry-After" in response.headers) is (status == 503)


@pytest.mark.parametrize(("error", "status"), [(UsageError("limit is off"), 400), (ModelNotFound("no version 9"), 404)])
def test_usage_and_not_found_answers_carry_the_errors_message(api: Api, error: TriageError, status: int) -> None:
    api.review.error = error
    response = api.client.get("/v1/review", headers=AUTH)
    assert (response.status_code, response.json()["detail"]) == (status, str(error))


def test_a_failure_keeps_its_cause_in_the_log_and_gives_the_caller_a_reference(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.review.error = ItemRefused("Cosmos DB at http://10.0.0.7:8081 refused the item: secret-partition", status=400)
    with caplog.at_level(logging.ERROR, logger="tweet_triage.api.app"):
        response = api.client.get("/v1/review", headers=AUTH)
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert "10.0.0.7" not in detail and "secret-partition" not in detail
    reference = re.search(r"reference ([0-9a-f]{12})", detail)
    assert reference is not None
    logged = [r for r in caplog.records if reference.group(1) in r.getMessage()]
    assert len(logged) == 1 and "secret-partition" in logged[0].getMessage()


@pytest.mark.parametrize(("hint", "header"), [(2.5, "3"), (0.2, "1"), (None, "5")])
def test_retry_after_is_the_services_own_hint_rounded_up_else_a_default(
    api: Api, hint: float | None, header: str
) -> None:
    api.review.error = StoreOutage("Cosmos DB is throttling", status=429, retry_after=hint)
    response = api.client.get("/v1/review", headers=AUTH)
    assert (response.status_code, response.headers["Retry-After"]) == (503, header)


def test_a_registry_that_cannot_be_read_is_a_503_and_an_unknown_version_a_404(api: Api) -> None:
    def registry_down(version: str, labels: list[str]) -> ModelInfoOut:
        raise RegistryUnavailable("cannot read the registry at http://127.0.0.1:1")

    api.runtime.model_info = registry_down
    assert api.client.get("/v1/model").status_code == 503

    def unknown(version: str, labels: list[str]) -> ModelInfoOut:
        raise ModelNotFound(f"model 'fake' has no version {version} in the registry")

    api.runtime.model_info = unknown
    response = api.client.get("/v1/model")
    assert (response.status_code, response.json()["detail"]) == (404, "model 'fake' has no version 7 in the registry")


def test_openapi_documents_retry_after_on_the_503_answers(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path, method in (("/v1/predict", "post"), ("/v1/feedback", "post"), ("/v1/review", "get")):
        assert "Retry-After" in paths[path][method]["responses"]["503"]["headers"], path
