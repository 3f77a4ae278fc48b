from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.unit.api.fakes import FakeReviewSource, RecordingPublisher, SwappableModel, WordScorer
from tweet_triage.api.app import create_app
from tweet_triage.api.auth import ApiKeys
from tweet_triage.api.runtime import ApiRuntime, Limits
from tweet_triage.api.schemas import ApprovalOut, ModelInfoOut

KEY = "test-key-0123456789"


@dataclass
class Api:
    client: TestClient
    model: SwappableModel
    publisher: RecordingPublisher
    runtime: ApiRuntime
    review: FakeReviewSource


APPROVAL = ApprovalOut(
    action="promote",
    version="7",
    replaced_version="6",
    approver="Ana (on-call)",
    reason="beats v6",
    gate_passed=True,
    override_reason=None,
    at="2026-11-30T10:00:00Z",
)


def model_info(version: str, labels: list[str]) -> ModelInfoOut:
    return ModelInfoOut(
        name="fake",
        version=version,
        alias="production",
        labels=labels,
        metrics={"f1": 0.8},
        tags={},
        approvals=[APPROVAL],
    )


def make_runtime(
    model: SwappableModel, publisher: RecordingPublisher, *, keys: str = KEY, protect_reads: bool = False
) -> ApiRuntime:
    return ApiRuntime(
        model=model,
        publisher=publisher,
        model_info=model_info,
        model_name="fake",
        keys=ApiKeys.from_setting(SecretStr(keys)),
        protect_reads=protect_reads,
        limits=Limits(max_batch=8, max_text_chars=300, max_body_bytes=16 * 1024),
        review=FakeReviewSource(),
    )


@pytest.fixture
def api() -> Iterator[Api]:
    model = SwappableModel(WordScorer())
    publisher = RecordingPublisher()
    runtime = make_runtime(model, publisher)
    assert isinstance(runtime.review, FakeReviewSource)
    with TestClient(create_app(runtime)) as client:
        yield Api(client, model, publisher, runtime, runtime.review)
