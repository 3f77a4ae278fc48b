"""promote / rollback / bootstrap on the in-memory registry and approval log: the rules, without MLflow.

The same flows against a real MLflow server are in tests/integration/model/test_approval_log.py.
"""

from __future__ import annotations

import pytest

from tests.twins.approvals import InMemoryApprovalLog
from tests.twins.registry import InMemoryRegistry
from tweet_triage.errors import ModelNotFound, RegistryUnavailable, UsageError
from tweet_triage.model.approval_chain import verify_chain
from tweet_triage.model.approvals import GENESIS, Action, ApprovalConflict, ApprovalRecord
from tweet_triage.model.gate import GateVerdict
from tweet_triage.model.registry import PRODUCTION, ModelVersion
from tweet_triage.training.promotion import BOOTSTRAP_APPROVER, PromotionRefused, bootstrap, promote, rollback

T0 = 1_800_000_000.0
PASSED = GateVerdict(True, "f1 0.82 >= 0.75").to_tags()
FAILED = GateVerdict(False, "f1 0.70 < 0.75").to_tags()


def add_versions(registry: InMemoryRegistry) -> InMemoryRegistry:
    """v1 and v2 passed the gate, v3 failed it, v4 was never gated."""
    for tags in (PASSED, PASSED, FAILED, {}):
        registry.add_version(tags)
    return registry


@pytest.fixture
def registry() -> InMemoryRegistry:
    return add_versions(InMemoryRegistry("triage"))


@pytest.fixture
def log() -> InMemoryApprovalLog:
    return InMemoryApprovalLog("triage")


def approve(
    registry: InMemoryRegistry,
    log: InMemoryApprovalLog,
    version: str,
    *,
    approver: str = "ana",
    reason: str = "better on floods",
    override_reason: str | None = None,
) -> ApprovalRecord:
    return promote(
        registry,
        log,
        version=version,
        approver=approver,
        reason=reason,
        override_reason=override_reason,
        clock=lambda: T0,
    )


def production(registry: InMemoryRegistry) -> str | None:
    found = registry.find(PRODUCTION)
    return found.version if found is not None else None


def assert_verified(registry: InMemoryRegistry, log: InMemoryApprovalLog) -> None:
    report = verify_chain(log.entries(), log.anchors(), production(registry))
    assert report.ok, report.problems


def test_a_promotion_needs_a_named_approver_and_a_reason(registry: InMemoryRegistry, log: InMemoryApprovalLog) -> None:
    for approver, reason in ((" ", "better"), ("ana", ""), ("", "  ")):
        with pytest.raises(UsageError, match="must not be blank"):
            approve(registry, log, "1", approver=approver, reason=reason)
    assert production(registry) is None and log.entries() == []


@pytest.mark.parametrize(
    ("version", "why"),
    [("3", "its gate failed: f1 0.70 < 0.75"), ("4", "it has no gate result")],
    ids=["failed gate", "never gated"],
)
def test_a_candidate_that_did_not_pass_the_gate_needs_an_override(
    registry: InMemoryRegistry, log: InMemoryApprovalLog, version: str, why: str
) -> None:
    for override in (None, "  "):
        with pytest.raises(PromotionRefused, match="--override") as refused:
            approve(registry, log, version, override_reason=override)
        assert why in str(refused.value)
    assert production(registry) is None and log.entries() == []


def test_an_override_promotes_and_the_record_says_who_why_and_what_was_overridden(
    registry: InMemoryRegistry, log: InMemoryApprovalLog
) -> None:
    record = approve(
        registry, log, "3", approver="  ana ", reason=" hotfix for floods ", override_reason=" known labelling dip "
    )
    assert production(registry) == "3"
    expected = ApprovalRecord(
        action=Action.PROMOTE,
        model="triage",
        version="3",
        replaced_version=None,
        approver="ana",
        reason="hotfix for floods",
        gate_passed=False,
        override_reason="known labelling dip",
        at=T0,
        alias_before=None,
    )
    assert record == expected.sealed(seq=1, prev_hash=GENESIS)
    assert log.history() == [record] and log.production_head() == record
    assert_verified(registry, log)


def test_an_override_of_a_passed_gate_is_not_recorded(registry: InMemoryRegistry, log: InMemoryApprovalLog) -> None:
    record = approve(registry, log, "1", override_reason="just in case")
    assert record.gate_passed and record.override_reason is None


def test_each_promotion_replaces_the_approved_version_once(
    registry: InMemoryRegistry, log: InMemoryApprovalLog
) -> None:
    approve(registry, log, "1")
    second = approve(registry, log, "2", approver="ben")
    assert (second.version, second.replaced_version, second.alias_before, second.seq) == ("2", "1", "1", 2)
    assert production(registry) == "2"
    with pytest.raises(PromotionRefused, match="already in production"):
        approve(registry, log, "2")
    with pytest.raises(ModelNotFound):
        approve(registry, log, "42")
    assert len(log.entries()) == 2
    assert_verified(registry, log)


def test_rollback_puts_back_the_version_before_until_there_is_none(
    registry: InMemoryRegistry, log: InMemoryApprovalLog
) -> None:
    with pytest.raises(PromotionRefused, match="no approved production version"):
        rollback(registry, log, approver="cy", reason="nothing there")
    approve(registry, log, "1")
    approve(registry, log, "2")
    back = rollback(registry, log, approver="cy", reason="v2 mislabels floods", clock=lambda: T0 + 60)
    assert (back.action, back.version, back.replaced_version, back.approver, back.at) == (
        Action.ROLLBACK,
        "1",
        "2",
        "cy",
        T0 + 60,
    )
    assert production(registry) == "1" and back.gate_passed
    with pytest.raises(PromotionRefused, match="replaced no earlier version"):
        rollback(registry, log, approver="cy", reason="again")
    assert_verified(registry, log)


def test_an_alias_moved_by_hand_is_rolled_back_or_approved_but_never_taken_as_approved(
    registry: InMemoryRegistry, log: InMemoryApprovalLog
) -> None:
    approve(registry, log, "1")
    registry.move_alias(PRODUCTION, "2")  # with a plain MLflow client
    with pytest.raises(PromotionRefused, match="without an approval record; `triage model rollback`"):
        approve(registry, log, "1")
    back = rollback(registry, log, approver="cy", reason="nobody approved v2")
    assert (back.version, back.replaced_version, back.alias_before) == ("1", "1", "2")
    assert production(registry) == "1"

    registry.move_alias(PRODUCTION, "2")
    record = approve(registry, log, "2", approver="ben", reason="the hotfix was right")
    assert (record.version, record.replaced_version, record.alias_before) == ("2", "1", "2")
    assert_verified(registry, log)


def test_bootstrap_is_for_an_empty_registry_only(registry: InMemoryRegistry, log: InMemoryApprovalLog) -> None:
    record = bootstrap(registry, log, version="4", clock=lambda: T0)
    assert (record.action, record.version, record.approver, record.gate_passed) == (
        Action.BOOTSTRAP,
        "4",
        BOOTSTRAP_APPROVER,
        False,
    )
    assert production(registry) == "4"
    with pytest.raises(PromotionRefused, match="only for an empty registry"):
        bootstrap(registry, log, version="1")
    assert len(log.entries()) == 1


class PromotedMeanwhile(InMemoryRegistry):
    """Ben's promotion of v2 completes right after this process first read where production points."""

    def __init__(self, log: InMemoryApprovalLog) -> None:
        super().__init__("triage")
        self._log = log
        self._raced = False

    def find(self, ref: str) -> ModelVersion | None:
        found = super().find(ref)
        if ref == PRODUCTION and not self._raced:
            self._raced = True
            promote(self, self._log, version="2", approver="ben", reason="racing")
        return found


def test_a_production_change_while_deciding_is_a_conflict_that_changes_nothing(log: InMemoryApprovalLog) -> None:
    registry = add_versions(PromotedMeanwhile(log))
    with pytest.raises(ApprovalConflict, match="production changed while this promote was decided"):
        approve(registry, log, "1")
    assert production(registry) == "2"
    assert [(r.version, r.approver) for r in log.history()] == [("2", "ben")]
    assert_verified(registry, log)


def test_a_record_that_cannot_be_written_puts_production_back(
    registry: InMemoryRegistry, log: InMemoryApprovalLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    approve(registry, log, "1")

    def broken(record: ApprovalRecord) -> None:
        raise RegistryUnavailable("MLflow went away while writing the record")

    monkeypatch.setattr(log, "_write", broken)
    with pytest.raises(RegistryUnavailable, match="went away"):
        approve(registry, log, "2")
    assert production(registry) == "1", "no move without a record"
    monkeypatch.undo()
    assert [r.version for r in log.history()] == ["1"]
    assert_verified(registry, log)


def test_a_held_approval_lock_refuses_the_promotion(registry: InMemoryRegistry, log: InMemoryApprovalLog) -> None:
    log.LOCK_TIMEOUT_S = 0.01
    with log.transaction(holder="ben@ops"), pytest.raises(ApprovalConflict, match="in progress \\(ben@ops\\)"):
        approve(registry, log, "1")
    assert production(registry) is None and log.entries() == []


def test_an_unreachable_registry_is_an_error_never_no_production(
    registry: InMemoryRegistry, log: InMemoryApprovalLog
) -> None:
    registry.reachable = False
    with pytest.raises(RegistryUnavailable):
        bootstrap(registry, log, version="1")
    with pytest.raises(RegistryUnavailable):
        rollback(registry, log, approver="cy", reason="outage")
    assert log.entries() == []
