"""The store adapter raises the project's own errors: callers outside ``tweet_triage.store`` never see SDK types."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceNotFoundError

from tweet_triage.errors import AlertNotFound, ContainerMissing, ErrorKind, ItemRefused, StoreOutage
from tweet_triage.settings import Settings, load_settings
from tweet_triage.store.cosmos import query, translate_errors


@pytest.fixture
def settings() -> Settings:
    return load_settings(cosmos={"database": "triage"})


def http_error(status: int, headers: dict[str, str] | None = None) -> CosmosHttpResponseError:
    error = CosmosHttpResponseError(status_code=status, message=f"status {status}")  # type: ignore[no-untyped-call]
    error.headers = headers or {}
    return error


def raised(settings: Settings, error: Exception, container: str | None = "predictions") -> BaseException:
    with pytest.raises(BaseException) as caught, translate_errors(settings, container=container):
        raise error
    return caught.value


def test_a_missing_container_is_container_missing_naming_it_and_the_database(settings: Settings) -> None:
    missing = CosmosResourceNotFoundError(status_code=404, message="Resource Not Found")  # type: ignore[no-untyped-call]
    error = raised(settings, missing)
    assert isinstance(error, ContainerMissing) and isinstance(error, StoreOutage)
    assert (error.status, error.schema_missing, error.kind) == (404, True, ErrorKind.UNAVAILABLE)
    assert "container 'predictions'" in str(error) and "database 'triage'" in str(error)


@pytest.mark.parametrize("status", [401, 403, 408, 429, 500, 503])
def test_other_store_wide_failures_are_outages_but_not_a_missing_container(settings: Settings, status: int) -> None:
    error = raised(settings, http_error(status))
    assert isinstance(error, StoreOutage) and not isinstance(error, ContainerMissing)
    assert (error.status, error.schema_missing) == (status, False)


def test_an_outage_carries_the_stores_retry_hint(settings: Settings) -> None:
    error = raised(settings, http_error(429, {"x-ms-retry-after-ms": "250"}))
    assert isinstance(error, StoreOutage) and error.retry_after == 0.25


def test_a_refused_key_names_the_setting(settings: Settings) -> None:
    assert "TRIAGE_COSMOS__KEY" in str(raised(settings, http_error(401)))


def test_an_unreachable_store_is_an_outage_that_names_the_endpoint(settings: Settings) -> None:
    error = raised(settings, ServiceRequestError("connection refused"))
    assert isinstance(error, StoreOutage) and error.status is None
    assert f"cannot reach Cosmos DB at {settings.cosmos_endpoint}" in str(error)


@pytest.mark.parametrize("cause", [http_error(400), http_error(413), ValueError("Id contains illegal chars.")])
def test_a_refusal_of_one_item_is_item_refused(settings: Settings, cause: Exception) -> None:
    error = raised(settings, cause)
    assert isinstance(error, ItemRefused) and error.kind is ErrorKind.FAILED


@pytest.mark.parametrize("error", [RuntimeError("Session is closed"), AlertNotFound("no alert 'a1'")])
def test_bugs_and_the_projects_own_errors_pass_through_unchanged(settings: Settings, error: Exception) -> None:
    assert raised(settings, error) is error


class MissingContainer:
    id = "alerts"

    def query_items(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise CosmosResourceNotFoundError(status_code=404, message="Resource Not Found")  # type: ignore[no-untyped-call]


def test_a_query_on_a_missing_container_raises_container_missing(settings: Settings) -> None:
    with pytest.raises(ContainerMissing, match="container 'alerts'"):
        query(MissingContainer(), settings, "SELECT * FROM c")  # type: ignore[arg-type]


class RacyContainer:
    """A container whose SDK trips over its own response headers ``trips`` times, then answers."""

    id = "predictions"

    def __init__(self, trips: int, message: str = "OrderedDict mutated during iteration") -> None:
        self.trips = trips
        self.message = message
        self.calls = 0

    def query_items(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls += 1
        if self.calls <= self.trips:
            raise RuntimeError(self.message)
        return [{"id": "t1"}]


def test_a_query_is_sent_again_when_the_sdk_trips_over_its_own_headers(settings: Settings) -> None:
    container = RacyContainer(trips=2)
    assert query(container, settings, "SELECT * FROM c") == [{"id": "t1"}]  # type: ignore[arg-type]
    assert container.calls == 3


def test_a_query_that_keeps_tripping_or_fails_otherwise_raises(settings: Settings) -> None:
    with pytest.raises(RuntimeError, match="mutated during iteration"):
        query(RacyContainer(trips=5), settings, "SELECT * FROM c")  # type: ignore[arg-type]
    other = RacyContainer(trips=1, message="something else")
    with pytest.raises(RuntimeError, match="something else"):
        query(other, settings, "SELECT * FROM c")  # type: ignore[arg-type]
    assert other.calls == 1
