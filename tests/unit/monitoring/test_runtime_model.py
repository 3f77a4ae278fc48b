"""Which model the monitor watches: the production version the approval log approves, on the in-memory twins.

The detectors themselves are replaced by a stand-in (building real ones calibrates for a minute); what is tested is
the runtime's use of the registry and the approval gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from tests.twins.approvals import InMemoryApprovalLog
from tests.twins.packages import write_package
from tests.twins.registry import InMemoryRegistry
from tweet_triage.errors import ModelError, RegistryUnavailable
from tweet_triage.model.approval_gate import ApprovalGate, UnapprovedModel
from tweet_triage.model.registry import PRODUCTION
from tweet_triage.monitoring import runtime as runtime_module
from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.feedback_store import FeedbackRecord, FeedbackStorage
from tweet_triage.monitoring.retrain.service import RetrainService
from tweet_triage.monitoring.runtime import MonitorRuntime
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.promotion import promote


class StandInDetectors:
    """What refresh_model needs of a DriftMonitor, remembering the package it was built from."""

    def __init__(self, version: str, package_dir: Path) -> None:
        self.model_version, self.package_dir = version, package_dir
        self.saved_to: Path | None = None

    def save(self, folder: Path) -> None:
        self.saved_to = folder

    def restore(self, folder: Path) -> bool:
        return False


class NoFeedback:
    def recent(self, *, predicted_version: str, limit: int) -> list[FeedbackRecord]:
        return []


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[StandInDetectors]:
    built: list[StandInDetectors] = []

    def build(settings: Settings, version: str, package_dir: Path, *, progress: bool = False) -> StandInDetectors:
        built.append(StandInDetectors(version, package_dir))
        return built[-1]

    monkeypatch.setattr(runtime_module, "build_drift_monitor", build)
    return built


@pytest.fixture
def registry(tmp_path: Path) -> InMemoryRegistry:
    """Two registered versions with packages; v2 is the candidate, nothing is in production."""
    registry = InMemoryRegistry("triage")
    for version in ("1", "2"):
        package = tmp_path / f"package-{version}"
        write_package(package)
        registry.register("run", package, {"gate.passed": "true"}, f"v{version}")
    return registry


@pytest.fixture
def log() -> InMemoryApprovalLog:
    return InMemoryApprovalLog("triage")


@pytest.fixture
def monitor(registry: InMemoryRegistry, log: InMemoryApprovalLog, tmp_path: Path) -> MonitorRuntime:
    return MonitorRuntime(
        load_settings(stack={"state_dir": tmp_path / "state"}),
        registry=registry,
        center=cast(AlertCenter, None),
        feedback=cast(FeedbackStorage, NoFeedback()),
        predictions=lambda tweet_id: None,
        retrain=cast(RetrainService, None),
        gate=ApprovalGate(log),
    )


def approve(registry: InMemoryRegistry, log: InMemoryApprovalLog, version: str) -> None:
    promote(registry, log, version=version, approver="ana", reason=f"v{version} reviewed")


def watched(monitor: MonitorRuntime) -> str | None:
    """The version the monitor's detectors are configured for."""
    return monitor.drift.model_version if monitor.drift is not None else None


def test_the_monitor_waits_while_nothing_is_in_production(
    monitor: MonitorRuntime, built: list[StandInDetectors]
) -> None:
    with pytest.raises(ModelError, match="no production model yet"):
        monitor.refresh_model()  # a candidate exists, but the monitor never watches one
    assert monitor.drift is None and built == []


def test_it_watches_the_approved_production_model_and_rebuilds_only_when_that_changes(
    monitor: MonitorRuntime, registry: InMemoryRegistry, log: InMemoryApprovalLog, built: list[StandInDetectors]
) -> None:
    approve(registry, log, "1")
    assert monitor.refresh_model() is True
    [first] = built
    assert watched(monitor) == first.model_version == "1"
    assert first.package_dir == registry.download(registry.get("1"))
    assert monitor.refresh_model() is False and len(built) == 1

    approve(registry, log, "2")
    assert monitor.refresh_model() is True
    assert watched(monitor) == built[1].model_version == "2"
    assert first.saved_to == monitor.state_dir, "the outgoing version's detector state is kept"


def test_a_production_move_without_approval_is_refused_and_the_approved_model_stays_watched(
    monitor: MonitorRuntime, registry: InMemoryRegistry, log: InMemoryApprovalLog, built: list[StandInDetectors]
) -> None:
    approve(registry, log, "1")
    monitor.refresh_model()
    registry.move_alias(PRODUCTION, "2")  # with a plain MLflow client
    for _ in range(2):  # every refresh refuses again while the move stands
        with pytest.raises(UnapprovedModel, match="refusing to monitor v2: v2 has no approval record"):
            monitor.refresh_model()
    assert watched(monitor) == "1" and len(built) == 1 and built[0].saved_to is None

    approve(registry, log, "2")  # the move, approved after the fact
    assert monitor.refresh_model() is True and watched(monitor) == "2"


def test_an_alias_set_with_an_empty_approval_log_is_never_watched(
    monitor: MonitorRuntime, registry: InMemoryRegistry, built: list[StandInDetectors]
) -> None:
    registry.move_alias(PRODUCTION, "1")
    with pytest.raises(UnapprovedModel, match="no standing record put any version in production"):
        monitor.refresh_model()
    assert monitor.drift is None and built == []


def test_an_approval_record_edited_after_the_fact_approves_nothing(
    monitor: MonitorRuntime, registry: InMemoryRegistry, log: InMemoryApprovalLog, built: list[StandInDetectors]
) -> None:
    approve(registry, log, "1")
    [entry] = log.entries()
    log.set_tag(entry.run_id, "approval.approver", "the CTO")
    with pytest.raises(UnapprovedModel, match="was altered after it was written"):
        monitor.refresh_model()
    assert monitor.drift is None and built == []


def test_a_registry_that_cannot_answer_is_an_error_not_an_empty_registry(
    monitor: MonitorRuntime, registry: InMemoryRegistry, log: InMemoryApprovalLog, built: list[StandInDetectors]
) -> None:
    approve(registry, log, "1")
    registry.reachable = False
    with pytest.raises(RegistryUnavailable):
        monitor.refresh_model()
    assert built == []
