"""Moving the `production` alias: only with a named approver and a reason, only past the gate (or an explicit,
reasoned override), and always recorded in the approval log. Nothing in tweet-triage calls this automatically.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tweet_triage.errors import ModelError, UsageError
from tweet_triage.model.approvals import Action, ApprovalLog, ApprovalRecord
from tweet_triage.model.registry import PRODUCTION, ModelVersion, Registry

Clock = Callable[[], float]

BOOTSTRAP_APPROVER = "bootstrap (demo, no human review)"


class PromotionRefused(ModelError):
    """The version may not be promoted as asked; the message says why and what would allow it."""


def promote(
    registry: Registry,
    log: ApprovalLog,
    *,
    version: str,
    approver: str,
    reason: str,
    override_reason: str | None = None,
    clock: Clock = time.time,
) -> ApprovalRecord:
    _require_text(approver=approver, reason=reason)
    candidate = registry.get(version)
    current = registry.find(PRODUCTION)
    if current is not None and current.version == candidate.version:
        raise PromotionRefused(f"{registry.name} v{version} is already in production")
    if not candidate.gate_passed and not (override_reason and override_reason.strip()):
        raise PromotionRefused(_gate_refusal(candidate))
    record = ApprovalRecord(
        action=Action.PROMOTE,
        model=registry.name,
        version=candidate.version,
        replaced_version=current.version if current else None,
        approver=approver.strip(),
        reason=reason.strip(),
        gate_passed=candidate.gate_passed,
        override_reason=override_reason.strip() if override_reason and not candidate.gate_passed else None,
        at=clock(),
    )
    log.append(record)  # the record first: a crash between the two leaves a record, never an unrecorded alias
    registry.move_alias(PRODUCTION, candidate.version)
    return record


def rollback(
    registry: Registry, log: ApprovalLog, *, approver: str, reason: str, clock: Clock = time.time
) -> ApprovalRecord:
    """Put back the version that was in production before the current one."""
    _require_text(approver=approver, reason=reason)
    current = registry.find(PRODUCTION)
    if current is None:
        raise PromotionRefused(f"{registry.name} has no production version to roll back")
    entered = [r for r in log.history() if r.version == current.version and r.action is not Action.ROLLBACK]
    previous = entered[-1].replaced_version if entered else None
    if previous is None:
        raise PromotionRefused(
            f"{registry.name} v{current.version} replaced no earlier version; nothing to roll back to"
        )
    record = ApprovalRecord(
        action=Action.ROLLBACK,
        model=registry.name,
        version=previous,
        replaced_version=current.version,
        approver=approver.strip(),
        reason=reason.strip(),
        gate_passed=registry.get(previous).gate_passed,
        override_reason=None,
        at=clock(),
    )
    log.append(record)
    registry.move_alias(PRODUCTION, previous)
    return record


def bootstrap(registry: Registry, log: ApprovalLog, *, version: str, clock: Clock = time.time) -> ApprovalRecord:
    """First production model of an empty demo registry, recorded as a bootstrap (never used once one exists)."""
    if registry.find(PRODUCTION) is not None:
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
        at=clock(),
    )
    log.append(record)
    registry.move_alias(PRODUCTION, candidate.version)
    return record


def _gate_refusal(version: ModelVersion) -> str:
    if "gate.passed" not in version.tags:
        detail = "it has no gate result (it was not evaluated by the training pipeline)"
    else:
        detail = f"its gate failed: {version.tags.get('gate.summary', 'see the gate report of its run')}"
    return (
        f"refusing to promote {version.name} v{version.version}: {detail}. "
        "Pass --override with a reason to promote it anyway; the override is recorded."
    )


def _require_text(**fields: str) -> None:
    blank = [name for name, value in fields.items() if not value or not value.strip()]
    if blank:
        raise UsageError(f"{' and '.join(blank)} must not be blank: promotions are recorded with who and why")
