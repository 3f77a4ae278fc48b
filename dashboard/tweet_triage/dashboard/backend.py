"""Where the dashboard's data comes from, behind one small interface (a fake one is used in tests).

:class:`LiveBackend` reads the ``predictions`` container through the store's ``PredictionReader`` and open alerts
from the ``alerts`` container, and calls the scoring API for model status, explanations, CSV checks and feedback.
Store problems surface as ``StoreError``, API problems as ``ServiceUnavailable``; the page turns both into plain
messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tweet_triage.api.schemas import ExplainResponse, FeedbackRequest, PredictionOut
from tweet_triage.dashboard.alerts import AlertView, read_open_alerts
from tweet_triage.dashboard.api_client import ApiClient, ModelStatus
from tweet_triage.errors import ContainerMissing
from tweet_triage.settings import Settings
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.recovery import read_state


class DashboardBackend(Protocol):
    def recent(self, limit: int) -> list[PredictionRecord]: ...

    def open_alerts(self) -> list[AlertView]: ...

    def model_status(self) -> ModelStatus: ...

    def explain(self, text: str, keyword: str | None) -> ExplainResponse: ...

    def predict(self, texts: Sequence[str]) -> list[PredictionOut]: ...

    def send_feedback(self, feedback: FeedbackRequest) -> None: ...

    def review(self, limit: int) -> list[PredictionRecord]:
        """The review queue: stored tweets most worth a label, least certain first."""
        ...

    def store_recovery(self) -> str | None:
        """While the local store is being restored or rebuilt after a restart: how far it is (else None)."""
        ...


class LiveBackend:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._api = ApiClient(settings.api_url, api_key=settings.dashboard.api_key)

    @property
    def api_url(self) -> str:
        return self._api.base_url

    def recent(self, limit: int) -> list[PredictionRecord]:
        try:
            with PredictionReader.open(self._settings) as reader:
                return reader.tail(limit)
        except ContainerMissing:
            return []  # nothing stored yet: the worker creates the container with the first tweet

    def open_alerts(self) -> list[AlertView]:
        return read_open_alerts(self._settings)

    def model_status(self) -> ModelStatus:
        return self._api.model_status()

    def explain(self, text: str, keyword: str | None) -> ExplainResponse:
        return self._api.explain(text, keyword)

    def predict(self, texts: Sequence[str]) -> list[PredictionOut]:
        return self._api.predict(texts)

    def send_feedback(self, feedback: FeedbackRequest) -> None:
        self._api.send_feedback(feedback)

    def review(self, limit: int) -> list[PredictionRecord]:
        return self._api.review(limit)

    def store_recovery(self) -> str | None:
        if self._settings.profile != "local":
            return None
        state = read_state(self._settings)
        return state.describe() if state is not None and state.in_progress else None
