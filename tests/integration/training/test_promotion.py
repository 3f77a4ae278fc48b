"""Promotion and rollback against the real registry: approval required, recorded, reversible."""

from __future__ import annotations

import pytest

from tests.integration.conftest import named_registry, register_copies
from tweet_triage.errors import UsageError
from tweet_triage.model.approvals import Action, ApprovalLog
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.settings import Settings
from tweet_triage.training.pipeline import PipelineResult
from tweet_triage.training.promotion import PromotionRefused, promote, rollback

pytestmark = [pytest.mark.integration]

MODEL = "tweet-triage-promotion-test"  # its own registered model: moving its aliases disturbs no other test


def test_promotion_needs_approval_and_is_recorded_then_rolled_back(
    first_candidate: PipelineResult, registry: Registry, training_settings: Settings
) -> None:
    v1, v2 = register_copies(first_candidate, registry, training_settings, MODEL, promote_first=False)
    target = named_registry(training_settings, MODEL)
    log = ApprovalLog.beside(target)
    assert target.find(PRODUCTION) is None

    with pytest.raises(UsageError, match="approver"):
        promote(target, log, version=v1, approver=" ", reason="looks good")
    with pytest.raises(PromotionRefused, match="--override"):  # the copies are registered with a failed gate
        promote(target, log, version=v1, approver="ana", reason="first model")
    assert target.find(PRODUCTION) is None and log.history() == []
    first = promote(target, log, version=v1, approver="ana", reason="first model", override_reason="quick profile")
    assert target.get(PRODUCTION).version == v1
    assert first.replaced_version is None

    promote(target, log, version=v2, approver="ben", reason="retrained", override_reason="quick profile")
    assert target.get(PRODUCTION).version == v2
    with pytest.raises(PromotionRefused, match="already in production"):
        promote(target, log, version=v2, approver="ben", reason="again", override_reason="x")

    back = rollback(target, log, approver="cy", reason="v2 mislabels floods")
    assert back.version == v1 and back.replaced_version == v2
    assert target.get(PRODUCTION).version == v1

    history = log.history()
    assert [(r.action, r.version, r.replaced_version, r.approver) for r in history] == [
        (Action.PROMOTE, v1, None, "ana"),
        (Action.PROMOTE, v2, v1, "ben"),
        (Action.ROLLBACK, v1, v2, "cy"),
    ]
    assert history[0].override_reason == "quick profile" and not history[0].gate_passed
    with pytest.raises(PromotionRefused, match="replaced no earlier version"):
        rollback(target, log, approver="cy", reason="again")
