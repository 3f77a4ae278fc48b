"""An approval log kept in memory: the :class:`~tweet_triage.model.approvals.ApprovalRecords` twin of ``ApprovalLog``.

It stores what the real log stores — one "run" of tags per record (deleted runs stay, flagged) and the registry's
copy of the chain — and builds the chain with the real code: records are sealed and appended by
:class:`~tweet_triage.model.approvals.LogTransaction`, read back with :func:`entry_from_tags` and verified by
:func:`~tweet_triage.model.approval_chain.verify_chain`. So tampering with it (:meth:`set_tag`, :meth:`delete_run`,
:meth:`delete_anchor`, the operations a plain MLflow client allows) is found exactly as in MLflow.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from tweet_triage.model.approvals import (
    ApprovalRecord,
    LogEntry,
    LogTransaction,
    anchor_value,
    default_holder,
    entry_from_tags,
    in_chain_order,
    lock_conflict,
    production_head,
    readable_history,
    to_tags,
)


@dataclass
class _Run:
    run_id: str
    tags: dict[str, str]
    deleted: bool = False


class InMemoryApprovalLog:
    LOCK_TIMEOUT_S = 30.0  # how long a second writer waits for the lock before giving up, as in ApprovalLog

    def __init__(self, model: str = "tweet-triage") -> None:
        self._model = model
        self._runs: list[_Run] = []
        self._anchors: dict[int, str] = {}
        self._lock = threading.Lock()
        self._holder = ""

    @property
    def model(self) -> str:
        return self._model

    # ---- reading ------------------------------------------------------------------------------------------------

    def entries(self) -> list[LogEntry]:
        return in_chain_order([entry_from_tags(run.run_id, run.deleted, dict(run.tags)) for run in self._runs])

    def history(self, version: str | None = None) -> list[ApprovalRecord]:
        return readable_history(self.entries(), version)

    def production_head(self) -> ApprovalRecord | None:
        return production_head(self.entries())

    def anchors(self) -> dict[int, str]:
        return dict(self._anchors)

    # ---- writing ------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, *, holder: str | None = None) -> Iterator[LogTransaction]:
        if not self._lock.acquire(timeout=self.LOCK_TIMEOUT_S):
            raise lock_conflict(self._model, self._holder)
        self._holder = holder or default_holder()
        try:
            yield LogTransaction(self._write, self.entries())
        finally:
            self._lock.release()

    def _write(self, record: ApprovalRecord) -> None:
        assert record.seq is not None  # LogTransaction writes sealed records only
        self._runs.append(_Run(f"run-{len(self._runs) + 1}", to_tags(record)))
        self._anchors[record.seq] = anchor_value(record)

    # ---- tampering, as anyone who can reach MLflow could ---------------------------------------------------------

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._run(run_id).tags[key] = value

    def delete_run(self, run_id: str) -> None:
        self._run(run_id).deleted = True

    def delete_anchor(self, seq: int) -> None:
        del self._anchors[seq]

    def _run(self, run_id: str) -> _Run:
        [run] = [run for run in self._runs if run.run_id == run_id]
        return run
