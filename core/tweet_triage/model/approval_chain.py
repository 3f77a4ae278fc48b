"""Verify the approval log's hash chain against the registry: what `triage model approvals --verify` reports.

Plain logic over what an approval log (:class:`~tweet_triage.model.approvals.ApprovalRecords`) read: the runs
(deleted ones included), the registry's copy of the chain (registered-model tags) and where ``production`` points
now. Every problem names the record it concerns; the first one in chain order is the one to look at first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tweet_triage.errors import ModelError
from tweet_triage.model.approvals import ApprovalRecord, LogEntry, anchor_value


class ChainBroken(ModelError):
    """The approval log does not verify; the message names the first broken or missing record."""


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None  # None: not about one record (e.g. where production points now)
    message: str


@dataclass(frozen=True)
class ChainReport:
    records: int  # chained records found
    head: ApprovalRecord | None  # the last standing production record
    problems: list[ChainProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


def verify_chain(entries: Sequence[LogEntry], anchors: Mapping[int, str], production: str | None) -> ChainReport:
    """Check sequence, hashes, links, the registry's copy and the current alias; see the module docstring."""
    walk = _Walk(entries, anchors)
    for seq in range(1, walk.last + 1):
        walk.visit(seq)
    problems = sorted(walk.problems, key=lambda p: p.seq if p.seq is not None else walk.last + 1)
    problems += _alias_problems(walk.head, production)
    return ChainReport(records=walk.records, head=walk.head, problems=problems, notes=walk.notes)


class _Walk:
    """One pass over the chain from #1, remembering what the next record must link to."""

    def __init__(self, entries: Sequence[LogEntry], anchors: Mapping[int, str]) -> None:
        self.by_seq: dict[int, list[LogEntry]] = defaultdict(list)
        for entry in entries:
            if entry.seq is not None:
                self.by_seq[entry.seq].append(entry)
        self.anchors = anchors
        self.records = sum(len(found) for found in self.by_seq.values())
        self.last = max([*self.by_seq, *anchors], default=0)
        self.problems: list[ChainProblem] = []
        self.notes: list[str] = []
        unchained = [e for e in entries if e.seq is None]
        legacy = [e for e in unchained if e.record is not None]
        if legacy:
            self.notes.append(
                f"{len(legacy)} record(s) predate the hash chain (no sequence number); they are listed, not verified"
            )
        self.suspects = ", ".join(f"run {e.run_id} ({e.problem})" for e in unchained if e.record is None)
        self.previous: ApprovalRecord | None = None  # the record before, if it could be read
        self.head: ApprovalRecord | None = None  # the last standing production record so far

    def problem(self, seq: int | None, message: str) -> None:
        self.problems.append(ChainProblem(seq, message))

    def visit(self, seq: int) -> None:
        found = self.by_seq.get(seq, [])
        anchor = self.anchors.get(seq)
        if not found:
            where = f" (the registry's history holds {anchor!r} for it)" if anchor else ""
            hint = f"; unreadable runs that may have been it: {self.suspects}" if self.suspects else ""
            self.problem(seq, f"record #{seq} is missing{where}{hint}")
            self.previous = None
            return
        if len(found) > 1:
            self.problem(seq, f"record #{seq} exists {len(found)} times (runs {', '.join(e.run_id for e in found)})")
        entry = found[0]
        record = entry.record
        assert record is not None  # only readable records have a sequence number
        name = f"record #{seq} (run {entry.run_id}, {record.action.value} v{record.version} by {record.approver})"
        if entry.deleted:
            self.problem(seq, f"{name} was deleted")
        if not record.intact():
            self.problem(seq, f"{name} was altered: its content no longer matches its hash")
        self._check_link(seq, record, name)
        if anchor is None:
            self.problem(seq, f"{name} is not in the registry's history (its tag was removed)")
        elif anchor != anchor_value(record):
            self.problem(seq, f"{name} differs from the registry's history, which holds {anchor!r} for it")
        if record.moves_production:
            self._check_production(seq, record, name, deleted=entry.deleted)
        self.previous = record

    def _check_link(self, seq: int, record: ApprovalRecord, name: str) -> None:
        if seq == 1 and record.prev_hash:
            self.problem(seq, f"{name} claims a predecessor, but it is the first record")
        previous = self.previous
        if previous is not None and record.prev_hash != previous.hash:
            self.problem(
                seq - 1,
                f"the link from record #{seq} to #{seq - 1} is broken: #{seq} holds hash {record.prev_hash!r} for "
                f"#{seq - 1}, which has {previous.hash!r} (one of them was rewritten)",
            )

    def _check_production(self, seq: int, record: ApprovalRecord, name: str, *, deleted: bool) -> None:
        expected = self.head.version if self.head is not None else None
        if record.replaced_version != expected:
            self.problem(
                seq,
                f"{name} says it replaced {_named(record.replaced_version)}, but the approved production before it "
                f"was {_named(expected)}",
            )
        if record.alias_before != record.replaced_version:
            self.notes.append(
                f"record #{seq} resolved a move nobody approved: production pointed at {_named(record.alias_before)}"
            )
        if not deleted:  # as when it was written: a deleted record approves nothing
            self.head = record


def _alias_problems(head: ApprovalRecord | None, production: str | None) -> list[ChainProblem]:
    if head is None:
        if production is None:
            return []
        return [ChainProblem(None, f"production points at v{production}, and no standing approval record put it there")]
    if production is None:
        return [
            ChainProblem(
                None, f"production points nowhere, but the last approval (#{head.seq}) put v{head.version} there"
            )
        ]
    if production != head.version:
        return [
            ChainProblem(
                None,
                f"production points at v{production}, but the last approval ({head.label}) put v{head.version} "
                "there: the alias was moved without an approval record",
            )
        ]
    return []


def _named(version: str | None) -> str:
    return f"v{version}" if version else "no version"
