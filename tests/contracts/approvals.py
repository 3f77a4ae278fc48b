"""What every :class:`~tweet_triage.model.approvals.ApprovalRecords` does, written once and run twice.

A test module runs the cases by subclassing :class:`ApprovalLogContract` and defining the ``approval_subject``
fixture, a fresh log nobody else uses: tests/unit/contracts/test_approval_log_twin.py with ``tests.twins.approvals``,
tests/integration/contracts/test_approval_log_contract.py with the MLflow ``ApprovalLog`` on the local tracking
server. Tampering goes through :class:`Tamper`, the operations anyone with a plain MLflow client has. The class is
not named ``Test*``, so pytest collects it only through a subclass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pytest

from tweet_triage.model.approval_chain import ChainReport, verify_chain
from tweet_triage.model.approvals import (
    GENESIS,
    Action,
    ApprovalConflict,
    ApprovalRecord,
    ApprovalRecords,
    LogEntry,
    anchor_value,
)


class Tamper(Protocol):
    def set_tag(self, run_id: str, key: str, value: str) -> None: ...

    def delete_run(self, run_id: str) -> None: ...

    def delete_anchor(self, seq: int) -> None: ...


@dataclass(frozen=True)
class LogSubject:
    log: ApprovalRecords  # for a model nobody else uses; a held lock makes others give up within a second
    tamper: Tamper  # on the same storage


def record(
    log: ApprovalRecords, version: str, replaced: str | None, *, action: Action = Action.PROMOTE, at: float = 0.0
) -> ApprovalRecord:
    return ApprovalRecord(
        action=action,
        model=log.model,
        version=version,
        replaced_version=replaced,
        approver=f"approver of v{version}",
        reason=f"{action.value} v{version}",
        gate_passed=action is not Action.BOOTSTRAP,
        override_reason="demo" if action is Action.BOOTSTRAP else None,
        at=1_800_000_000.25 + at,
        alias_before=replaced,
        slot="blue" if action is Action.SLOT else None,
    )


def append(log: ApprovalRecords, *drafts: ApprovalRecord) -> list[ApprovalRecord]:
    with log.transaction(holder="contract tests") as tx:
        return [tx.append(draft) for draft in drafts]


def verify(log: ApprovalRecords, production: str | None) -> ChainReport:
    return verify_chain(log.entries(), log.anchors(), production)


def entry(log: ApprovalRecords, seq: int) -> LogEntry:
    [found] = [e for e in log.entries() if e.seq == seq]
    return found


class ApprovalLogContract:
    """The cases, each on a fresh ``approval_subject`` fixture the subclass defines."""

    def test_an_empty_log_holds_nothing(self, approval_subject: LogSubject) -> None:
        log = approval_subject.log
        assert (log.entries(), log.history(), log.production_head(), log.anchors()) == ([], [], None, {})
        assert verify(log, None).ok

    def test_appended_records_come_back_sealed_chained_and_copied_to_the_registry(
        self, approval_subject: LogSubject
    ) -> None:
        log = approval_subject.log
        [first] = append(log, record(log, "1", None, action=Action.BOOTSTRAP))
        with log.transaction(holder="ben") as tx:
            assert tx.production_head == first  # a transaction starts from what is stored
            second = tx.append(record(log, "2", "1", at=1))
            slot = tx.append(record(log, "2", None, action=Action.SLOT, at=2))
        entries = log.entries()
        assert [e.record for e in entries] == [first, second, slot] and not any(e.deleted for e in entries)
        assert [r.seq for r in (first, second, slot)] == [1, 2, 3]
        assert (first.prev_hash, second.prev_hash, slot.prev_hash) == (GENESIS, first.hash, second.hash)
        assert all(r.intact() for r in (first, second, slot))
        assert log.anchors() == {1: anchor_value(first), 2: anchor_value(second), 3: anchor_value(slot)}
        assert log.production_head() == second  # moving endpoint traffic does not change production
        assert log.history() == [first, second, slot] and log.history("1") == [first, second]
        assert verify(log, "2").ok

    def test_an_edited_record_no_longer_matches_its_hash(self, approval_subject: LogSubject) -> None:
        log = approval_subject.log
        append(log, record(log, "1", None), record(log, "2", "1", at=1))
        edited = entry(log, 1)
        approval_subject.tamper.set_tag(edited.run_id, "approval.approver", "the CTO")
        altered = entry(log, 1).record
        assert altered is not None and altered.approver == "the CTO" and not altered.intact()
        report = verify(log, "2")
        assert report.first is not None and report.first.seq == 1
        assert f"record #1 (run {edited.run_id}, promote v1 by the CTO) was altered" in report.first.message

    def test_a_deleted_record_stays_visible_and_approves_nothing(self, approval_subject: LogSubject) -> None:
        log = approval_subject.log
        first, _ = append(log, record(log, "1", None), record(log, "2", "1", at=1))
        deleted = entry(log, 2)
        approval_subject.tamper.delete_run(deleted.run_id)
        assert entry(log, 2).deleted and [e.seq for e in log.entries()] == [1, 2]
        assert log.production_head() == first and log.history() == [first]
        report = verify(log, "2")
        assert report.first is not None and report.first.seq == 2 and "was deleted" in report.first.message

    def test_a_record_whose_tags_no_longer_parse_is_listed_as_unreadable(self, approval_subject: LogSubject) -> None:
        log = approval_subject.log
        append(log, record(log, "1", None))
        run_id = entry(log, 1).run_id
        approval_subject.tamper.set_tag(run_id, "approval.action", "approve-everything")
        [unreadable] = log.entries()
        assert (unreadable.run_id, unreadable.record) == (run_id, None) and unreadable.problem
        assert log.production_head() is None
        report = verify(log, "1")
        assert report.first is not None and report.first.seq == 1 and f"run {run_id}" in report.first.message

    def test_a_removed_registry_copy_is_found(self, approval_subject: LogSubject) -> None:
        log = approval_subject.log
        append(log, record(log, "1", None), record(log, "2", "1", at=1))
        approval_subject.tamper.delete_anchor(2)
        assert sorted(log.anchors()) == [1]
        report = verify(log, "2")
        assert report.first is not None and report.first.seq == 2
        assert "is not in the registry's history" in report.first.message

    def test_one_writer_at_a_time_and_the_lock_is_released_on_errors(self, approval_subject: LogSubject) -> None:
        log = approval_subject.log
        held = log.transaction(holder="ana on the laptop")
        with held, pytest.raises(ApprovalConflict, match="ana on the laptop"), log.transaction(holder="ben"):
            pytest.fail("a second writer got the lock")
        with pytest.raises(RuntimeError, match="changed my mind"), log.transaction(holder="ben"):
            raise RuntimeError("changed my mind")
        [written] = append(log, record(log, "1", None))
        assert [e.record for e in log.entries()] == [written]
