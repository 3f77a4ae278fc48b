"""The approval log: who moved which version into production (or live endpoint traffic), when, why, and what it
replaced. Append-only and tamper-evident.

MLflow keeps no history of aliases, so every promotion, rollback and endpoint traffic switch is written as one run
in the experiment ``<model>-approvals`` of the same tracking server. Records form a hash chain: each carries a
sequence number, the hash of the record before it and its own hash (SHA-256 over its fields). The registry keeps
a second copy of the chain as tags of the registered model (``approval.chain.000007 = "promote v3 <hash>"``), the
registry's own alias history. Editing a record breaks its hash, deleting one leaves a gap or a deleted run (runs
are read with ``ViewType.ALL``), and truncating the tail leaves registry tags without records;
:func:`tweet_triage.model.approval_chain.verify_chain` finds each of these.

Appends are serialised by a lock (a registered model named ``<model>.approval-lock``: MLflow refuses to create a
second model of the same name, which makes the creation atomic on the server), so two concurrent promotions cannot
both extend the chain from the same record.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from tweet_triage.errors import ModelError, RegistryUnavailable
from tweet_triage.model.registry import is_not_found

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from tweet_triage.model.registry import Registry

log = logging.getLogger(__name__)

Clock = Callable[[], float]
TAG_PREFIX = "approval."
ANCHOR_PREFIX = "approval.chain."
GENESIS = ""  # the previous hash of record #1


class Action(StrEnum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    BOOTSTRAP = "bootstrap"
    SLOT = "slot"  # all live traffic of the online endpoint went to a slot serving `version`


PRODUCTION_ACTIONS = frozenset({Action.PROMOTE, Action.ROLLBACK, Action.BOOTSTRAP})


class ApprovalConflict(ModelError):
    """Someone else changed production or the approval log meanwhile; nothing was changed by this call."""


@dataclass(frozen=True)
class ApprovalRecord:
    action: Action
    model: str
    version: str
    replaced_version: str | None  # the approved version this one replaced (production, or the endpoint's live slot)
    approver: str
    reason: str
    gate_passed: bool
    override_reason: str | None
    at: float  # unix seconds
    alias_before: str | None = None  # what `production` pointed at before; differs from replaced_version only
    #                                  when the record resolves a move nobody approved
    slot: str | None = None  # SLOT records: the endpoint slot that took all live traffic
    seq: int | None = None  # position in the chain, from 1; None: written before the log was chained
    prev_hash: str | None = None
    hash: str | None = None

    @property
    def moves_production(self) -> bool:
        return self.action in PRODUCTION_ACTIONS

    @property
    def label(self) -> str:
        """``#4 promote v3 by ana`` — how messages name a record."""
        number = f"#{self.seq} " if self.seq is not None else ""
        return f"{number}{self.action.value} v{self.version} by {self.approver}"

    def sealed(self, *, seq: int, prev_hash: str) -> ApprovalRecord:
        """This record as entry ``seq`` of the chain, after the record whose hash is ``prev_hash``."""
        unsealed = replace(self, seq=seq, prev_hash=prev_hash, hash=None)
        return replace(unsealed, hash=content_hash(to_tags(unsealed)))

    def intact(self) -> bool:
        """The stored hash matches the record's content."""
        return self.hash is not None and self.hash == content_hash(to_tags(self))

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["action"] = self.action.value
        data["at_iso"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))
        return data


_FIELDS = tuple(f.name for f in fields(ApprovalRecord))
HASHED_FIELDS = tuple(name for name in _FIELDS if name != "hash")


def to_tags(record: ApprovalRecord) -> dict[str, str]:
    """The record as MLflow run tags (``approval.<field>``; None is the empty string)."""
    values = asdict(record)
    values["action"] = record.action.value
    return {f"{TAG_PREFIX}{name}": "" if values[name] is None else str(values[name]) for name in _FIELDS}


def content_hash(tags: dict[str, str]) -> str:
    """SHA-256 over the hashed fields exactly as stored (so a record read back hashes like the one written)."""
    canonical = json.dumps(
        {name: tags.get(f"{TAG_PREFIX}{name}", "") for name in HASHED_FIELDS}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def from_tags(tags: dict[str, str]) -> ApprovalRecord:
    """Read a record back; ValueError/KeyError when the tags no longer make one."""

    def opt(key: str) -> str | None:
        return tags.get(f"{TAG_PREFIX}{key}") or None

    seq = opt("seq")
    return ApprovalRecord(
        action=Action(tags["approval.action"]),
        model=tags["approval.model"],
        version=tags["approval.version"],
        replaced_version=opt("replaced_version"),
        approver=tags["approval.approver"],
        reason=tags["approval.reason"],
        gate_passed=tags.get("approval.gate_passed") == "True",
        override_reason=opt("override_reason"),
        at=float(tags["approval.at"]),
        alias_before=opt("alias_before"),
        slot=opt("slot"),
        seq=int(seq) if seq is not None else None,
        prev_hash=tags.get("approval.prev_hash", "") if seq is not None else None,
        hash=opt("hash"),
    )


@dataclass(frozen=True)
class LogEntry:
    """One run of the approval experiment as found, deleted ones included."""

    run_id: str
    deleted: bool
    record: ApprovalRecord | None  # None: the tags no longer make a record
    problem: str | None = None  # why it cannot be read

    @property
    def seq(self) -> int | None:
        return self.record.seq if self.record is not None else None


def entry_from_tags(run_id: str, deleted: bool, tags: dict[str, str]) -> LogEntry:
    """One stored run as the chain sees it: its record, or why its tags no longer make one."""
    try:
        return LogEntry(run_id, deleted, from_tags(tags))
    except (KeyError, ValueError) as exc:
        return LogEntry(run_id, deleted, None, f"its tags no longer make an approval record ({exc!r})")


def in_chain_order(entries: Sequence[LogEntry]) -> list[LogEntry]:
    """Chained entries by sequence number, then unchained ones by time (how every log returns its entries)."""
    return sorted(entries, key=lambda e: (e.seq is None, e.seq or 0, e.record.at if e.record else 0.0))


def chain_head(entries: Sequence[LogEntry]) -> LogEntry | None:
    """The entry with the highest sequence number (deleted or not: the next record must come after it)."""
    chained = [e for e in entries if e.seq is not None]
    return max(chained, key=lambda e: e.seq or 0) if chained else None


def production_head(entries: Sequence[LogEntry]) -> ApprovalRecord | None:
    """The latest standing record that put a version in production: chained, not deleted."""
    standing = [e.record for e in entries if e.record is not None and e.record.seq is not None and not e.deleted]
    moves = [r for r in standing if r.moves_production]
    return max(moves, key=lambda r: r.seq or 0) if moves else None


def readable_history(entries: Sequence[LogEntry], version: str | None = None) -> list[ApprovalRecord]:
    """Standing records, in order (records from before the chain first, by time)."""
    records = [e.record for e in entries if e.record is not None and not e.deleted]
    records.sort(key=lambda r: (r.seq is not None, r.seq or 0, r.at))
    return [r for r in records if version is None or version in (r.version, r.replaced_version)]


class ApprovalRecords(Protocol):
    """An approval log as its callers use it: read the chain (and the registry's copy of it), append under a lock.

    :class:`ApprovalLog` keeps it in MLflow; ``tests.twins.approvals.InMemoryApprovalLog`` in memory, for fast tests
    (``tests/contracts/approvals.py`` holds both to the same behaviour). Both seal and append through
    :class:`LogTransaction`, so the chain is built by the same code either way.
    """

    @property
    def model(self) -> str: ...

    def entries(self) -> list[LogEntry]:
        """Every stored record for this model, deleted and unreadable ones included, in chain order."""
        ...

    def history(self, version: str | None = None) -> list[ApprovalRecord]:
        """Standing records, oldest first (optionally only those about ``version``)."""
        ...

    def production_head(self) -> ApprovalRecord | None:
        """The latest standing record that put a version in production."""
        ...

    def anchors(self) -> dict[int, str]:
        """The registry's copy of the chain: sequence number -> :func:`anchor_value` of that record."""
        ...

    def transaction(self, *, holder: str | None = None) -> AbstractContextManager[LogTransaction]:
        """Hold the log's lock while deciding and appending; :class:`ApprovalConflict` when someone else holds it."""
        ...


def lock_conflict(model: str, holder: str) -> ApprovalConflict:
    """The refusal of a second writer while ``holder`` changes the approval log of ``model``."""
    return ApprovalConflict(f"another change to the approval log of {model} is in progress ({holder}); try again")


def default_holder() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class ApprovalLog:
    LOCK_TIMEOUT_S = 30.0  # how long an append waits for another one to finish
    LOCK_STALE_S = 120.0  # a lock older than this was left by a crashed process (an append takes seconds)
    LOCK_POLL_S = 0.2

    def __init__(self, client: MlflowClient, model_name: str, *, clock: Clock = time.time) -> None:
        self._client = client
        self._model = model_name
        self._clock = clock
        self.experiment_name = f"{model_name}-approvals"
        self.lock_name = f"{model_name}.approval-lock"

    @classmethod
    def beside(cls, registry: Registry) -> ApprovalLog:
        """The approval log kept in the same MLflow server as ``registry``, for its model."""
        return cls(registry.client, registry.name)

    @property
    def model(self) -> str:
        return self._model

    # ---- reading ------------------------------------------------------------------------------------------------

    def entries(self) -> list[LogEntry]:
        """Every run of the approval experiment for this model, deleted ones included, in chain order."""
        from mlflow.entities import ViewType

        experiment = self._call("read the approval log", self._client.get_experiment_by_name, self.experiment_name)
        if experiment is None:
            return []
        found: list[LogEntry] = []
        page_token = None
        while True:
            page = self._call(
                "read the approval log",
                self._client.search_runs,
                [experiment.experiment_id],
                filter_string=f"tags.`approval.model` = '{self._model}'",
                run_view_type=ViewType.ALL,
                max_results=500,
                page_token=page_token,
            )
            found += [_entry(run) for run in page]
            page_token = page.token
            if not page_token:
                break
        return in_chain_order(found)

    def history(self, version: str | None = None) -> list[ApprovalRecord]:
        """Standing records for this model, oldest first (optionally only those about ``version``)."""
        return readable_history(self.entries(), version)

    def production_head(self) -> ApprovalRecord | None:
        """The latest standing record that put a version in production (what serving may follow)."""
        return production_head(self.entries())

    def anchors(self) -> dict[int, str]:
        """The registry's copy of the chain: sequence number -> ``"<action> v<version> <hash>"``."""
        from mlflow.exceptions import MlflowException

        try:
            model = self._client.get_registered_model(self._model)
        except MlflowException as exc:
            if is_not_found(exc):
                return {}
            raise RegistryUnavailable(f"cannot read the registry's approval history of {self._model!r}: {exc}") from exc
        found = {}
        for key, value in (model.tags or {}).items():
            if key.startswith(ANCHOR_PREFIX) and key[len(ANCHOR_PREFIX) :].isdigit():
                found[int(key[len(ANCHOR_PREFIX) :])] = value
        return found

    # ---- writing ------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, *, holder: str | None = None) -> Iterator[LogTransaction]:
        """Hold the log's lock: read the chain, decide, change the world, append; nobody else appends meanwhile."""
        self._acquire(holder or default_holder())
        try:
            yield LogTransaction(self._write, self.entries())
        finally:
            self._release()

    def _write(self, record: ApprovalRecord) -> None:
        assert record.seq is not None  # LogTransaction writes sealed records only
        experiment_id = self._experiment_id()
        tags = to_tags(record)
        tags["mlflow.runName"] = f"#{record.seq} {record.action.value} v{record.version} by {record.approver}"
        run = self._call(
            "write the approval record",
            self._client.create_run,
            experiment_id,
            start_time=int(record.at * 1000),
            tags=tags,
        )
        self._call(
            "close the approval record", self._client.set_terminated, run.info.run_id, end_time=int(record.at * 1000)
        )
        self._call(
            "write the registry's approval history",
            self._client.set_registered_model_tag,
            self._model,
            anchor_key(record.seq),
            anchor_value(record),
        )

    def _experiment_id(self) -> str:
        found = self._call("find the approval log", self._client.get_experiment_by_name, self.experiment_name)
        if found is not None:
            return str(found.experiment_id)
        return str(
            self._call(
                "create the approval log",
                self._client.create_experiment,
                self.experiment_name,
                tags={"purpose": "approval log (hash-chained; see `triage model approvals --verify`)"},
            )
        )

    def _acquire(self, holder: str) -> None:
        from mlflow.exceptions import MlflowException

        deadline = time.monotonic() + self.LOCK_TIMEOUT_S
        while True:
            try:
                self._client.create_registered_model(
                    self.lock_name,
                    tags={"holder": holder, "since": f"{self._clock():.3f}"},
                    description=f"held while the approval log of {self._model} is changed; never a model",
                )
                return
            except MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise RegistryUnavailable(f"cannot take the approval log's lock {self.lock_name!r}: {exc}") from exc
            owner, since = self._lock_owner()
            if since is not None and self._clock() - since > self.LOCK_STALE_S:
                log.warning(
                    "breaking the approval lock left by %s at %.0f (older than %.0f s)", owner, since, self.LOCK_STALE_S
                )
                self._release()
                continue
            if time.monotonic() > deadline:
                raise lock_conflict(self._model, owner)
            time.sleep(self.LOCK_POLL_S)  # another append takes a second or two

    def _lock_owner(self) -> tuple[str, float | None]:
        from mlflow.exceptions import MlflowException

        try:
            tags = self._client.get_registered_model(self.lock_name).tags or {}
        except MlflowException:
            return "a process that just released it", None
        try:
            return tags.get("holder", "unknown"), float(tags.get("since", ""))
        except ValueError:
            return tags.get("holder", "unknown"), None

    def _release(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._client.delete_registered_model(self.lock_name)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                log.error(
                    "could not release the approval lock %s (it expires after %.0f s): %s",
                    self.lock_name,
                    self.LOCK_STALE_S,
                    exc,
                )

    def _call(self, what: str, method: Callable[..., object], *args: object, **kwargs: object) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return method(*args, **kwargs)
        except MlflowException as exc:
            raise RegistryUnavailable(f"cannot {what} of {self._model!r}: {exc}") from exc


class LogTransaction:
    """The chain as read under the lock, and the one way to extend it: ``write`` stores one sealed record (and its
    registry copy) in whichever log opened the transaction."""

    def __init__(self, write: Callable[[ApprovalRecord], None], entries: list[LogEntry]) -> None:
        self._write = write
        self.entries = entries

    @property
    def production_head(self) -> ApprovalRecord | None:
        return production_head(self.entries)

    def append(self, record: ApprovalRecord) -> ApprovalRecord:
        """Seal ``record`` after the chain's last entry, write it and its registry copy; returns the sealed record."""
        last = chain_head(self.entries)
        previous = last.record if last is not None else None
        seq = (previous.seq or 0) + 1 if previous is not None else 1
        prev_hash = (previous.hash or "") if previous is not None else GENESIS
        sealed = record.sealed(seq=seq, prev_hash=prev_hash)
        self._write(sealed)
        self.entries = [*self.entries, LogEntry(run_id="(just written)", deleted=False, record=sealed)]
        return sealed


def anchor_key(seq: int) -> str:
    """The registered-model tag that holds the registry's copy of record ``seq``."""
    return f"{ANCHOR_PREFIX}{seq:06d}"


def anchor_value(record: ApprovalRecord) -> str:
    return f"{record.action.value} v{record.version} {record.hash}"


def _entry(run: object) -> LogEntry:
    info, tags = run.info, dict(run.data.tags)  # type: ignore[attr-defined]
    return entry_from_tags(info.run_id, info.lifecycle_stage == "deleted", tags)
