"""Moving the `production` alias: only with a named approver and a reason, only past the gate (or an explicit,
reasoned override), and always recorded in the approval log. Nothing in tweet-triage calls this automatically.

Every move is a compare-and-set under the approval log's lock (:meth:`ApprovalRecords.transaction`):

1. read where ``production`` points and the log's standing production record (outside the lock: the decision);
2. take the lock; check both are still what was read — otherwise someone else changed production meanwhile and
   nothing is done (:class:`ApprovalConflict`);
3. move the alias and read it back (a plain MLflow client may have moved it too);
4. append the record (sequence number, previous hash, registry copy); if that fails, the alias is put back.

So two racing promotions cannot both succeed: the second finds production changed and is refused, and a failed
move never leaves a record claiming it happened. Registry errors are errors, never "no production model".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from tweet_triage.errors import ModelError, UsageError
from tweet_triage.model.approvals import Action, ApprovalConflict, ApprovalRecord, ApprovalRecords
from tweet_triage.model.registry import PRODUCTION, ModelRegistry, ModelVersion, RegistryReader

logger = logging.getLogger(__name__)  # `log` is the approval log here

Clock = Callable[[], float]

BOOTSTRAP_APPROVER = "bootstrap (demo, no human review)"


class PromotionRefused(ModelError):
    """The version may not be promoted as asked; the message says why and what would allow it."""


def promote(
    registry: ModelRegistry,
    log: ApprovalRecords,
    *,
    version: str,
    approver: str,
    reason: str,
    override_reason: str | None = None,
    clock: Clock = time.time,
) -> ApprovalRecord:
    """Put ``version`` in production. With the alias already there but unapproved, this approves that move."""
    _require_text(approver=approver, reason=reason)
    candidate = registry.get(version)
    seen = _production(registry)
    approved = log.production_head()
    if approved is not None and approved.version == candidate.version:
        if seen == candidate.version:
            raise PromotionRefused(f"{registry.name} v{version} is already in production")
        raise PromotionRefused(
            f"{registry.name} v{version} is already the approved production version, but the alias points at "
            f"v{seen} without an approval record; `triage model rollback` puts v{version} back"
        )
    if not candidate.gate_passed and not (override_reason and override_reason.strip()):
        raise PromotionRefused(_gate_refusal(candidate))
    record = ApprovalRecord(
        action=Action.PROMOTE,
        model=registry.name,
        version=candidate.version,
        replaced_version=approved.version if approved else None,
        approver=approver.strip(),
        reason=reason.strip(),
        gate_passed=candidate.gate_passed,
        override_reason=override_reason.strip() if override_reason and not candidate.gate_passed else None,
        at=0.0,
        alias_before=seen,
    )
    return _move_production(registry, log, record, seen=seen, approved=approved, clock=clock)


def rollback(
    registry: ModelRegistry, log: ApprovalRecords, *, approver: str, reason: str, clock: Clock = time.time
) -> ApprovalRecord:
    """Put back the version that was in production before the current one — or, when the alias was moved without
    an approval record, the approved version it was moved away from."""
    _require_text(approver=approver, reason=reason)
    seen = _production(registry)
    approved = log.production_head()
    if approved is None:
        raise PromotionRefused(f"{registry.name} has no approved production version to roll back")
    if seen != approved.version:
        target = approved.version  # undo the unapproved move
    else:
        entered = [r for r in log.history() if r.version == approved.version and r.action is not Action.ROLLBACK]
        previous = entered[-1].replaced_version if entered else None
        if previous is None:
            raise PromotionRefused(
                f"{registry.name} v{approved.version} replaced no earlier version; nothing to roll back to"
            )
        target = previous
    record = ApprovalRecord(
        action=Action.ROLLBACK,
        model=registry.name,
        version=target,
        replaced_version=approved.version,
        approver=approver.strip(),
        reason=reason.strip(),
        gate_passed=registry.get(target).gate_passed,
        override_reason=None,
        at=0.0,
        alias_before=seen,
    )
    return _move_production(registry, log, record, seen=seen, approved=approved, clock=clock)


def bootstrap(
    registry: ModelRegistry, log: ApprovalRecords, *, version: str, clock: Clock = time.time
) -> ApprovalRecord:
    """First production model of an empty demo registry, recorded as a bootstrap (never used once one exists)."""
    seen = _production(registry)
    approved = log.production_head()
    if seen is not None or approved is not None:
        raise PromotionRefused("a production version exists; bootstrap is only for an empty registry")
    candidate = registry.get(version)
    record = ApprovalRecord(
        action=Action.BOOTSTRAP,
        model=registry.name,
        version=candidate.version,
        replaced_version=None,
        approver=BOOTSTRAP_APPROVER,
        reason="demo bootstrap: no production model existed; promote a reviewed version before real use",
        gate_passed=candidate.gate_passed,
        override_reason=None,
        at=0.0,
    )
    return _move_production(registry, log, record, seen=None, approved=None, clock=clock)


def _move_production(
    registry: ModelRegistry,
    log: ApprovalRecords,
    record: ApprovalRecord,
    *,
    seen: str | None,
    approved: ApprovalRecord | None,
    clock: Clock,
) -> ApprovalRecord:
    """Compare, move, verify, record — under the log's lock (see the module docstring)."""
    target = record.version
    with log.transaction(holder=record.approver) as tx:
        now, head = _production(registry), tx.production_head
        if now != seen or _key(head) != _key(approved):
            raise ApprovalConflict(
                f"production changed while this {record.action.value} was decided: it pointed at {_v(seen)} "
                f"(approved: {_v(approved.version if approved else None)}), now at {_v(now)} (approved: "
                f"{_v(head.version if head else None)}{f', {head.label}' if head else ''}); nothing was changed — "
                "look again and retry"
            )
        registry.move_alias(PRODUCTION, target)
        after = _production(registry)
        if after != target:
            raise ApprovalConflict(
                f"production was moved to {_v(after)} by someone else while moving it to v{target}; nothing was "
                "recorded (the approval log still approves "
                f"{_v(approved.version if approved else None)}); look at `triage model approvals --verify`"
            )
        try:
            return tx.append(replace(record, at=clock()))
        except Exception:
            logger.error(
                "recording the %s of v%s failed; putting production back to %s", record.action, target, _v(seen)
            )
            try:
                registry.move_alias(PRODUCTION, seen)
            except ModelError as exc:
                logger.critical("could not put production back to %s: %s", _v(seen), exc)
            raise


def _production(registry: RegistryReader) -> str | None:
    found = registry.find(PRODUCTION)  # RegistryUnavailable propagates: an outage is not "no production"
    return found.version if found is not None else None


def _key(record: ApprovalRecord | None) -> tuple[int | None, str | None] | None:
    return (record.seq, record.hash) if record is not None else None


def _v(version: str | None) -> str:
    return f"v{version}" if version else "nothing"


def _gate_refusal(version: ModelVersion) -> str:
    verdict = version.gate
    if verdict is None:
        detail = "it has no gate result (it was not evaluated by the training pipeline)"
    else:
        detail = f"its gate failed: {verdict.summary or 'see the gate report of its run'}"
    return (
        f"refusing to promote {version.name} v{version.version}: {detail}. "
        "Pass --override with a reason to promote it anyway; the override is recorded."
    )


def _require_text(**fields: str) -> None:
    blank = [name for name, value in fields.items() if not value or not value.strip()]
    if blank:
        raise UsageError(f"{' and '.join(blank)} must not be blank: promotions are recorded with who and why")
