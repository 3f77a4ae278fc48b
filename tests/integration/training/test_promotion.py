"""Promotion and rollback against the real registry: approval required, recorded, reversible."""

from __future__ import annotations

import pytest

from tests.integration.conftest import QUICK
from tweet_triage.errors import UsageError
from tweet_triage.model.approvals import Action, ApprovalLog
from tweet_triage.model.registry import CANDIDATE, PRODUCTION, Registry
from tweet_triage.settings import Settings
from tweet_triage.training.pipeline import PipelineResult, run_pipeline
from tweet_triage.training.prepare import PreparedDataset
from tweet_triage.training.promotion import PromotionRefused, promote, rollback

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_promotion_needs_approval_and_is_recorded_then_rolled_back(
    first_candidate: PipelineResult, registry: Registry, training_settings: Settings, kaggle_dataset: PreparedDataset
) -> None:
    log = ApprovalLog.beside(registry)
    v1 = first_candidate.version.version
    assert registry.find(PRODUCTION) is None

    with pytest.raises(UsageError, match="approver"):
        promote(registry, log, version=v1, approver=" ", reason="looks good")
    if not registry.get(v1).gate_passed:
        with pytest.raises(PromotionRefused, match="--override"):
            promote(registry, log, version=v1, approver="ana", reason="first model")
        assert registry.find(PRODUCTION) is None and log.history() == []
    first = promote(registry, log, version=v1, approver="ana", reason="first model", override_reason="quick profile")
    assert registry.get(PRODUCTION).version == v1
    assert first.replaced_version is None

    second_run = run_pipeline(training_settings, kaggle_dataset, QUICK, registry=registry, progress=False)
    v2 = second_run.version.version
    assert registry.get(CANDIDATE).version == v2
    assert registry.get(PRODUCTION).version == v1, "training must never move production"
    gate = second_run.gate
    assert gate.production_version == v1 and gate.production_metrics is not None

    promote(registry, log, version=v2, approver="ben", reason="retrained", override_reason="quick profile")
    assert registry.get(PRODUCTION).version == v2
    with pytest.raises(PromotionRefused, match="already in production"):
        promote(registry, log, version=v2, approver="ben", reason="again", override_reason="x")

    back = rollback(registry, log, approver="cy", reason="v2 mislabels floods")
    assert back.version == v1 and back.replaced_version == v2
    assert registry.get(PRODUCTION).version == v1

    history = log.history()
    assert [(r.action, r.version, r.replaced_version, r.approver) for r in history] == [
        (Action.PROMOTE, v1, None, "ana"),
        (Action.PROMOTE, v2, v1, "ben"),
        (Action.ROLLBACK, v1, v2, "cy"),
    ]
    assert history[0].override_reason == "quick profile" or history[0].gate_passed
    with pytest.raises(PromotionRefused, match="replaced no earlier version"):
        rollback(registry, log, approver="cy", reason="again")
