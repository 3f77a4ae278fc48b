"""The endpoint's scoring script (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.model.approval_entries import MemoryApprovalLog
from tweet_triage.deploy.azureml import score
from tweet_triage.errors import ModelError
from tweet_triage.model.approval_gate import UnapprovedModel


def test_requests_are_parsed_and_bad_ones_refused() -> None:
    assert score.parse_request('{"texts": ["fire downtown"]}') == [{"text": "fire downtown"}]
    tweets = score.parse_request({"tweets": [{"id": "7", "text": "flood", "keyword": "flood"}]})
    assert tweets == [{"id": "7", "text": "flood", "keyword": "flood"}]
    for bad in ("[]", '{"tweets": []}', '{"tweets": [{"text": "  "}]}', '{"texts": [' + '"a",' * 300 + '"a"]}'):
        with pytest.raises(ValueError):
            score.parse_request(bad)
    assert "error" in score.run('{"tweets": "nope"}')


def test_the_model_package_is_found_inside_the_registered_model(tmp_path: Path) -> None:
    package = tmp_path / "tweet-triage" / "3" / "package"
    (package / "tokenizer").mkdir(parents=True)
    (package / "package.json").write_text("{}")
    (package / "tokenizer" / "package.json").write_text("{}")  # a stray file of the same name is not a package
    assert score.find_package(tmp_path) == package
    (tmp_path / "other" / "tokenizer").mkdir(parents=True)
    (tmp_path / "other" / "package.json").write_text("{}")
    with pytest.raises(ModelError, match="found 2"):
        score.find_package(tmp_path)


def test_a_live_slot_serves_only_the_approved_version_or_the_one_it_replaced() -> None:
    approvals = MemoryApprovalLog()
    approvals.approve("1")
    approvals.approve("2")
    score.check_approval("2", approvals.gate())  # the approved production version
    score.check_approval("1", approvals.gate())  # outgoing: keeps serving while traffic shifts to v2
    with pytest.raises(UnapprovedModel, match="refusing to serve v3 on a live slot: v3 has no approval record"):
        score.check_approval("3", approvals.gate())


@pytest.mark.parametrize(("role", "checked"), [("live", True), ("mirror", False)])
def test_init_checks_the_approval_log_before_loading_on_live_slots_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, role: str, checked: bool
) -> None:
    package = tmp_path / "package"
    (package / "tokenizer").mkdir(parents=True)
    (package / "package.json").write_text("{}")
    checks: list[str] = []

    def refuse(version: str, gate: object = None) -> None:
        checks.append(version)
        raise UnapprovedModel("not approved")

    loaded: list[str] = []
    monkeypatch.setattr(score, "check_approval", refuse)
    monkeypatch.setattr(score, "Predictor", lambda folder, *, version, threads: loaded.append(version))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("TRIAGE_MODEL_VERSION", "7")
    monkeypatch.setenv("TRIAGE_SERVING_ROLE", role)
    if checked:
        with pytest.raises(UnapprovedModel):
            score.init()
        assert checks == ["7"] and loaded == [], "nothing is loaded without the approval"
    else:
        score.init()
        assert checks == [] and loaded == ["7"]
