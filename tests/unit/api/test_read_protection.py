"""Reads behind a key where the server protects them, approvers' names only for callers with a key, and readiness
when production moved to a version without an approval record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.conftest import KEY, make_runtime
from tests.unit.api.fakes import RecordingPublisher, SwappableModel, WordScorer
from tweet_triage.api.app import create_app
from tweet_triage.settings import load_settings

READS = [
    ("post", "/v1/predict", {"tweets": [{"text": "fire downtown"}]}),
    ("post", "/v1/explain", {"text": "fire downtown"}),
    ("get", "/v1/model", None),
]


@pytest.fixture
def protected() -> Iterator[TestClient]:
    runtime = make_runtime(SwappableModel(WordScorer()), RecordingPublisher(), protect_reads=True)
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=[r[1] for r in READS])
def test_protected_reads_need_a_key(protected: TestClient, method: str, path: str, body: object) -> None:
    refused = protected.request(method, path, json=body)
    assert refused.status_code == 401 and "needs an API key" in refused.json()["detail"]
    wrong = protected.request(method, path, json=body, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    allowed = protected.request(method, path, json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert allowed.status_code == 200, allowed.text


def test_probes_and_metrics_stay_open_when_reads_are_protected(protected: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert protected.get(path).status_code == 200, path


def test_approvers_names_only_reach_callers_with_a_key() -> None:
    runtime = make_runtime(SwappableModel(WordScorer()), RecordingPublisher())
    with TestClient(create_app(runtime)) as client:
        anonymous = client.get("/v1/model").json()["approvals"]
        with_key = client.get("/v1/model", headers={"X-API-Key": KEY}).json()["approvals"]
    assert [a["approver"] for a in anonymous] == [None]
    assert anonymous[0]["reason"] == "beats v6" and anonymous[0]["version"] == "7"
    assert [a["approver"] for a in with_key] == ["Ana (on-call)"]


def test_an_unapproved_production_move_makes_the_server_unready_but_it_keeps_the_approved_model() -> None:
    model = SwappableModel(WordScorer(version="7"))
    runtime = make_runtime(model, RecordingPublisher())
    with TestClient(create_app(runtime)) as client:
        model.problem = "m production points at v9, which has no approval record; still serving v7"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unapproved", "model_version": "7", "detail": model.problem}
        scored = client.post("/v1/predict", json={"tweets": [{"text": "fire"}]})
        assert scored.status_code == 200 and scored.json()["model"]["version"] == "7"
        assert client.get("/healthz").status_code == 200


def test_reads_are_protected_by_default_in_the_azure_profile_only() -> None:
    azure = {
        "profile": "azure",
        "kafka": {
            "eventhubs_connection_string": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b"
        },
        "cosmos": {"endpoint": "https://acct.documents.azure.com:443/", "key": "k" * 20},
        "mlflow": {"tracking_uri": "https://mlflow.example"},
    }
    assert load_settings(**azure).api_reads_need_key
    assert not load_settings(**azure, api={"protect_reads": False}).api_reads_need_key
    assert not load_settings().api_reads_need_key
    assert load_settings(api={"protect_reads": True}).api_reads_need_key
