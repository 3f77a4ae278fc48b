"""The live backend's store reads: a container not created yet means nothing to show; an outage is raised."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.cosmos.exceptions import CosmosResourceNotFoundError

from tweet_triage.dashboard.alerts import read_open_alerts
from tweet_triage.dashboard.backend import LiveBackend
from tweet_triage.errors import ContainerMissing, StoreOutage
from tweet_triage.settings import Settings, load_settings


class FailingContainer:
    """A container proxy whose queries fail with ``error``, as the SDK raises it."""

    def __init__(self, name: str, error: Exception) -> None:
        self.id = name
        self._error = error

    def query_items(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise self._error


def not_found() -> Exception:
    return CosmosResourceNotFoundError(status_code=404, message="Resource Not Found")  # type: ignore[no-untyped-call]


def serve(monkeypatch: pytest.MonkeyPatch, module: str, error: Exception) -> None:
    @contextmanager
    def open_container(settings: Settings, role: str, *, create: bool = False) -> Iterator[FailingContainer]:
        yield FailingContainer(role, error)

    monkeypatch.setattr(f"{module}.open_container", open_container)


def test_no_predictions_container_yet_shows_no_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, "tweet_triage.store.reader", not_found())
    assert LiveBackend(load_settings()).recent(10) == []


def test_no_alerts_container_yet_shows_no_open_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, "tweet_triage.monitoring.alerts.store", not_found())
    assert read_open_alerts(load_settings()) == []


@pytest.mark.parametrize(
    ("module", "read"),
    [
        ("tweet_triage.store.reader", lambda backend: backend.recent(10)),
        ("tweet_triage.monitoring.alerts.store", lambda backend: backend.open_alerts()),
    ],
)
def test_an_unreachable_store_is_raised_not_shown_as_empty(
    monkeypatch: pytest.MonkeyPatch, module: str, read: Callable[[LiveBackend], object]
) -> None:
    serve(monkeypatch, module, ServiceRequestError("connection refused"))
    with pytest.raises(StoreOutage, match="cannot reach Cosmos DB") as caught:
        read(LiveBackend(load_settings()))
    assert not isinstance(caught.value, ContainerMissing)
