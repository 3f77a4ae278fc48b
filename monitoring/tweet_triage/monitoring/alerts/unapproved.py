"""The ``unapproved`` alert: the production alias points at a version the approval log does not approve.

Serving processes (stream worker, API) refuse to follow such a move (:mod:`tweet_triage.model.watcher`) and call
:class:`UnapprovedMoveAlerts` once per move; it goes through the ordinary alert center, so replicas that see the same
move make one incident (deduplicated on the target version) and one webhook message.
"""

from __future__ import annotations

from tweet_triage.model.watcher import UnapprovedMove
from tweet_triage.monitoring.alerts.center import Raised, alert_center
from tweet_triage.monitoring.alerts.records import AlertDraft
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.settings import Settings


def unapproved_draft(move: UnapprovedMove, *, reporter: str) -> AlertDraft:
    approved = f"v{move.approved}" if move.approved else "no version"
    serving = f"v{move.serving}" if move.serving else "nothing"
    return AlertDraft(
        kind="unapproved",
        severity="critical",
        title=f"Unapproved model move: {move.alias} points at v{move.target} without an approval record",
        summary=(
            f"{move.model} {move.alias} was moved to v{move.target}, but the approval log approves {approved} "
            f"({move.reason}). The {reporter} refuses to load it and keeps serving {serving}. Find out who moved the "
            f"alias; then approve the move (`triage model promote {move.target} --approver NAME --reason TEXT`) or "
            "undo it (`triage model rollback --approver NAME --reason TEXT`), and check the log with "
            "`triage model approvals --verify` (docs/runbook.md#unapproved)."
        ),
        model_version=move.target,
        details={"alias": move.alias, "approved_version": move.approved, "serving": move.serving, "seen_by": reporter},
    )


class UnapprovedMoveAlerts:
    """``on_unapproved`` for a :class:`~tweet_triage.model.watcher.ModelWatcher`: raise the alert (Cosmos + webhook).

    The store is opened per alert (moves are rare), so a process holds no Cosmos connection for it; an unreachable
    store raises, and the watcher tries again at its next check.
    """

    def __init__(self, settings: Settings, *, reporter: str) -> None:
        self._settings = settings
        self._reporter = reporter

    def __call__(self, move: UnapprovedMove) -> Raised:
        with AlertStore.open(self._settings, create=True) as store:
            return alert_center(self._settings, store).raise_alert(unapproved_draft(move, reporter=self._reporter))
