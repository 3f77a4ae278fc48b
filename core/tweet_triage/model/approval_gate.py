"""The one rule every serving path applies: a version takes live traffic only if the approval log says it is production.

"Approved" means: the latest standing record of the approval log that put a version in production (a promotion,
rollback or bootstrap: chained, not deleted, its hash intact) names this version. The stream worker and the API
(through :class:`~tweet_triage.model.watcher.ModelWatcher`), the drift monitor, the Azure scoring script and
`triage azure deploy` / `promote-slot` all ask :meth:`ApprovalGate.check`; none of them trusts the ``production``
alias alone, because anyone who can reach MLflow can move an alias.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tweet_triage.errors import ModelError
from tweet_triage.model.approvals import ApprovalLog, ApprovalRecord, ApprovalRecords, LogEntry, production_head
from tweet_triage.model.registry import Registry, RegistryReader


class UnapprovedModel(ModelError):
    """A version was about to serve live traffic without an approval record; the message names the move."""


@dataclass(frozen=True)
class ApprovalVerdict:
    version: str  # the version asked about
    approved: bool
    record: ApprovalRecord | None  # the record that makes it production, or the standing production record
    reason: str  # in words, naming the records concerned

    @property
    def outgoing(self) -> bool:
        """The version the approved one replaced: it may keep (never gain) live traffic while traffic shifts."""
        return not self.approved and self.record is not None and self.record.replaced_version == self.version

    @property
    def approved_version(self) -> str | None:
        """The version the approval log says is production (None: no standing approval at all)."""
        return self.record.version if self.record is not None else None


def judge(version: str, entries: list[LogEntry]) -> ApprovalVerdict:
    """The rule itself, over the log as read (pure: unit-tested with made-up entries)."""
    head = production_head(entries)
    later = [e for e in entries if e.seq is not None and (head is None or (e.seq or 0) > (head.seq or 0))]
    removed = "".join(
        f"; record #{e.seq} ({e.record.label if e.record else 'unreadable'}) was deleted"
        for e in later
        if e.deleted and e.record is not None and e.record.moves_production
    )
    if head is None:
        return ApprovalVerdict(
            version,
            False,
            None,
            f"v{version} has no approval record: no standing record put any version in production"
            f"{removed}; approve it with `triage model promote {version} --approver NAME --reason TEXT`",
        )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(head.at))
    if not head.intact():
        return ApprovalVerdict(
            version, False, head, f"the last approval record ({head.label}, {when}) was altered after it was written"
        )
    if head.version != version:
        return ApprovalVerdict(
            version,
            False,
            head,
            f"v{version} has no approval record: the last approval ({head.label}, {when}) put v{head.version} in "
            f"production{removed}",
        )
    return ApprovalVerdict(version, True, head, f"v{version} was approved: {head.label}, {when}")


class ApprovalGate:
    def __init__(self, log: ApprovalRecords) -> None:
        self._log = log

    @property
    def log(self) -> ApprovalRecords:
        """The log the gate reads (and the endpoint traffic switch appends to)."""
        return self._log

    def check(self, version: str) -> ApprovalVerdict:
        """Whether ``version`` is the approved production version. Registry errors raise (never "unapproved")."""
        return judge(version, self._log.entries())

    def require(self, version: str, *, what: str) -> ApprovalVerdict:
        """:meth:`check`, raising :class:`UnapprovedModel` ("refusing to WHAT: REASON") when it is not approved."""
        verdict = self.check(version)
        if not verdict.approved:
            raise UnapprovedModel(f"refusing to {what}: {verdict.reason}")
        return verdict


def gate_for(registry: RegistryReader) -> ApprovalGate:
    """The gate over the approval log kept beside an MLflow :class:`Registry`, for callers given no gate.

    Any other registry keeps no approval log of its own: pass its callers a gate (``TypeError`` otherwise).
    """
    if not isinstance(registry, Registry):
        raise TypeError(f"a {type(registry).__name__} has no approval log beside it; pass the ApprovalGate to use")
    return ApprovalGate(ApprovalLog.beside(registry))
