"""Made-up approval-log entries for the chain, gate and watcher tests."""

from __future__ import annotations

from tests.twins.approvals import InMemoryApprovalLog
from tweet_triage.model.approval_gate import ApprovalGate
from tweet_triage.model.approvals import GENESIS, Action, ApprovalRecord, LogEntry, anchor_value


def draft(version: str, replaced: str | None, *, action: Action = Action.PROMOTE, at: float = 0.0) -> ApprovalRecord:
    return ApprovalRecord(
        action=action,
        model="m",
        version=version,
        replaced_version=replaced,
        approver=f"approver of v{version}",
        reason="looks good",
        gate_passed=True,
        override_reason=None,
        at=1_800_000_000.0 + at,
        alias_before=replaced,
    )


def chain(*drafts: ApprovalRecord) -> list[LogEntry]:
    entries, previous = [], GENESIS
    for seq, record in enumerate(drafts, start=1):
        sealed = record.sealed(seq=seq, prev_hash=previous)
        entries.append(LogEntry(run_id=f"run{seq}", deleted=False, record=sealed))
        previous = sealed.hash or ""
    return entries


def anchors_of(entries: list[LogEntry]) -> dict[int, str]:
    return {e.seq: anchor_value(e.record) for e in entries if e.record is not None and e.seq is not None}


class MemoryApprovalLog(InMemoryApprovalLog):
    """The in-memory approval log of model "m", with shortcuts for the deploy tests."""

    def __init__(self) -> None:
        super().__init__("m")

    @property
    def written(self) -> list[ApprovalRecord]:
        return self.history()

    def approve(self, version: str, *, action: Action = Action.PROMOTE) -> ApprovalRecord:
        """Record ``version`` as production (after whatever is production now)."""
        with self.transaction() as tx:
            head = tx.production_head
            return tx.append(draft(version, head.version if head else None, action=action))

    def gate(self) -> ApprovalGate:
        return ApprovalGate(self)
