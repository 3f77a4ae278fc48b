"""ModelWatcher's swap logic with a fake registry and a fake approval log (no MLflow, no model files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from tests.unit.model.approval_entries import chain, draft
from tweet_triage.errors import ModelError, RegistryUnavailable
from tweet_triage.model import watcher as watcher_module
from tweet_triage.model.approval_gate import ApprovalGate, ApprovalVerdict, UnapprovedModel, judge
from tweet_triage.model.approvals import ApprovalRecord, LogEntry
from tweet_triage.model.registry import ModelVersion, Registry
from tweet_triage.model.watcher import ModelWatcher, Swap, UnapprovedMove


class FakeRegistry:
    name = "m"

    def __init__(self) -> None:
        self.alias_to: str | None = None
        self.downloads: list[str] = []
        self.down = False

    def get(self, ref: str) -> ModelVersion:
        if self.down:
            raise RegistryUnavailable("registry at http://mlflow is down")
        if self.alias_to is None:
            raise ModelError(f"no alias {ref!r}")
        return ModelVersion("m", self.alias_to, "run", (ref,), {}, 0, "")

    def download(self, version: ModelVersion) -> Path:
        self.downloads.append(version.version)
        if version.version == "broken":
            raise ModelError("package is missing model.onnx")
        return Path(f"/models/{version.version}")


class FakeGate:
    """The real rule over an approval log the test writes."""

    def __init__(self, *records: ApprovalRecord) -> None:
        self.entries: list[LogEntry] = chain(*records)

    def approve(self, *records: ApprovalRecord) -> None:
        self.entries = chain(*records)

    def check(self, version: str) -> ApprovalVerdict:
        return judge(version, self.entries)


class FakePredictor:
    def __init__(self, folder: Path, *, version: str, threads: int) -> None:
        self.folder, self.version = folder, version


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    monkeypatch.setattr(watcher_module, "Predictor", FakePredictor)
    return FakeRegistry()


def watch(fake: FakeRegistry, gate: FakeGate, **kwargs: Any) -> ModelWatcher:
    return ModelWatcher(cast(Registry, fake), gate=cast(ApprovalGate, gate), **kwargs)


def serving_v1(fake: FakeRegistry, **kwargs: Any) -> tuple[ModelWatcher, FakeGate, list[UnapprovedMove]]:
    """A watcher serving approved v1, and what it reports as unapproved."""
    reported: list[UnapprovedMove] = []
    gate = FakeGate(draft("1", None))
    watcher = watch(fake, gate, on_unapproved=reported.append, **kwargs)
    fake.alias_to = "1"
    watcher.refresh()
    return watcher, gate, reported


def test_nothing_serves_until_the_alias_exists_and_then_swaps_only_on_change(fake: FakeRegistry) -> None:
    swaps: list[Swap] = []
    gate = FakeGate(draft("1", None))
    watcher = watch(fake, gate, on_swap=swaps.append)
    assert not watcher.ready
    with pytest.raises(ModelError, match="no 'production' model is loaded"):
        _ = watcher.current
    assert watcher.try_refresh() is None and not watcher.ready

    fake.alias_to = "1"
    assert watcher.refresh() == Swap(previous=None, current="1")
    assert watcher.current.version == "1"
    assert watcher.refresh() is None  # same version: no reload
    assert fake.downloads == ["1"]

    fake.alias_to = "2"
    gate.approve(draft("1", None), draft("2", "1", at=1))
    assert watcher.refresh() == Swap(previous="1", current="2")
    assert [s.current for s in swaps] == ["1", "2"]
    assert watcher.problem is None


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(fake: FakeRegistry) -> None:
    gate = FakeGate(draft("1", None))
    watcher = watch(fake, gate)
    fake.alias_to = "1"
    watcher.refresh()
    fake.alias_to = "broken"
    gate.approve(draft("1", None), draft("broken", "1", at=1))
    assert watcher.try_refresh() is None
    current: Any = watcher.current
    assert current.version == "1"


def test_an_unapproved_move_is_never_loaded_and_is_reported_once_confirmed(fake: FakeRegistry) -> None:
    watcher, gate, reported = serving_v1(fake)
    fake.alias_to = "2"  # moved with a plain MLflow client
    with pytest.raises(UnapprovedModel, match="no approval record"):
        watcher.refresh()
    assert reported == [] and watcher.problem is None  # one sighting may be a promotion between move and record
    for _ in range(3):
        with pytest.raises(UnapprovedModel):
            watcher.refresh()
    assert fake.downloads == ["1"], "the unapproved version was never downloaded"
    assert watcher.current.version == "1"
    [move] = reported  # confirmed on the second check, reported once
    assert (move.target, move.serving, move.approved) == ("2", "1", "1")
    assert "points at v2, which has no approval record; still serving v1" in (watcher.problem or "")
    assert "approver" not in (watcher.problem or ""), "readiness text carries no approver names"

    gate.approve(draft("1", None), draft("2", "1", at=1))  # someone approves the move
    assert watcher.refresh() == Swap(previous="1", current="2")
    assert watcher.problem is None


def test_a_promotion_seen_between_its_move_and_its_record_raises_no_alarm(fake: FakeRegistry) -> None:
    watcher, gate, reported = serving_v1(fake)
    fake.alias_to = "2"
    with pytest.raises(UnapprovedModel):
        watcher.refresh()
    gate.approve(draft("1", None), draft("2", "1", at=1))  # the record lands
    assert watcher.refresh() == Swap(previous="1", current="2")
    assert reported == []


def test_moving_back_clears_the_problem_and_a_failed_report_is_retried(fake: FakeRegistry) -> None:
    calls: list[str] = []

    def flaky(move: UnapprovedMove) -> None:
        calls.append(move.target)
        if len(calls) == 1:
            raise RuntimeError("alert store down")

    gate = FakeGate(draft("1", None))
    watcher = watch(fake, gate, on_unapproved=flaky)
    fake.alias_to = "1"
    watcher.refresh()
    fake.alias_to = "3"
    for _ in range(4):
        assert watcher.try_refresh() is None
    assert calls == ["3", "3"], "retried after the failure, then reported once"
    fake.alias_to = "1"
    assert watcher.refresh() is None and watcher.problem is None


def test_with_nothing_loaded_an_unapproved_alias_serves_nothing(fake: FakeRegistry) -> None:
    watcher = watch(fake, FakeGate(draft("1", None)), confirmations=1)
    fake.alias_to = "2"
    with pytest.raises(UnapprovedModel, match="serving nothing"):
        watcher.refresh()
    assert not watcher.ready and fake.downloads == []


def test_registry_errors_are_errors_not_an_empty_registry(fake: FakeRegistry) -> None:
    watcher = watch(fake, FakeGate(draft("1", None)))
    fake.alias_to = "1"
    watcher.refresh()
    fake.down = True
    with pytest.raises(RegistryUnavailable):
        watcher.refresh()
    assert watcher.try_refresh() is None and watcher.current.version == "1" and watcher.problem is None
