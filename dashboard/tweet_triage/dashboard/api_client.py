"""The dashboard's client of the scoring API (explanations, CSV checks, feedback, model status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from tweet_triage.api.schemas import (
    ExplainResponse,
    FeedbackRequest,
    ModelInfoOut,
    PredictionOut,
    PredictResponse,
    ReviewResponse,
)
from tweet_triage.errors import TriageError
from tweet_triage.store.records import PredictionRecord

M = TypeVar("M", bound=BaseModel)


class ServiceUnavailable(TriageError):
    """The scoring API could not be reached or refused the request; the message says which."""


@dataclass(frozen=True)
class ModelStatus:
    ok: bool
    message: str
    info: ModelInfoOut | None = None


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: SecretStr | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key.get_secret_value()} if api_key is not None else {}
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout_s, headers=headers, transport=transport)

    def close(self) -> None:
        self._client.close()

    def model_status(self) -> ModelStatus:
        try:
            ready = self._client.get("/readyz")
            if ready.status_code != 200:
                body = _json_or_empty(ready)
                if body.get("status") == "unapproved":  # still answering, with the approved model it holds
                    info = _parse(ModelInfoOut, self._call("GET", "/v1/model"))
                    return ModelStatus(False, f"model change not approved: {body.get('detail')}", info)
                return ModelStatus(False, "the scoring service is starting: no model loaded yet")
            return ModelStatus(True, "ready", _parse(ModelInfoOut, self._call("GET", "/v1/model")))
        except ServiceUnavailable as exc:
            return ModelStatus(False, str(exc))
        except httpx.HTTPError:
            return ModelStatus(False, f"the scoring service at {self.base_url} is not reachable")

    def explain(self, text: str, keyword: str | None = None) -> ExplainResponse:
        return _parse(ExplainResponse, self._call("POST", "/v1/explain", {"text": text, "keyword": keyword}))

    def predict(self, texts: Sequence[str]) -> list[PredictionOut]:
        body = {"tweets": [{"text": text} for text in texts]}
        return _parse(PredictResponse, self._call("POST", "/v1/predict", body)).predictions

    def send_feedback(self, feedback: FeedbackRequest) -> None:
        self._call("POST", "/v1/feedback", feedback.model_dump(exclude_none=True))

    def review(self, limit: int) -> list[PredictionRecord]:
        return _parse(ReviewResponse, self._call("GET", f"/v1/review?limit={int(limit)}")).items

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of a successful request; ServiceUnavailable with the API's own words otherwise."""
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the scoring service at {self.base_url} is not reachable ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 400:
            raise ServiceUnavailable(f"the scoring service said: {_detail(response)} (HTTP {response.status_code})")
        try:
            return response.json()
        except ValueError as exc:
            raise ServiceUnavailable(f"the scoring service answered {path} with something that is not JSON") from exc


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServiceUnavailable(f"unexpected answer from the scoring service: {exc}") from exc


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
