"""The serving rule on made-up approval logs: only the version the latest standing production record names."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.model.approval_entries import chain, draft
from tweet_triage.model.approval_gate import judge
from tweet_triage.model.approvals import Action


def test_only_the_version_the_last_production_record_names_is_approved() -> None:
    entries = chain(draft("1", None), draft("2", "1", at=1), draft("2", "1", action=Action.SLOT, at=2))
    assert judge("2", entries).approved
    refused = judge("1", entries)
    assert not refused.approved and refused.approved_version == "2"
    assert "v1 has no approval record: the last approval (#2 promote v2 by approver of v2" in refused.reason


def test_rollbacks_and_bootstraps_approve_too() -> None:
    entries = chain(draft("1", None, action=Action.BOOTSTRAP), draft("2", "1", at=1))
    assert judge("1", [entries[0]]).approved
    rolled = chain(draft("1", None), draft("2", "1", at=1), draft("1", "2", action=Action.ROLLBACK, at=2))
    assert judge("1", rolled).approved and not judge("2", rolled).approved


def test_an_empty_log_approves_nothing() -> None:
    verdict = judge("1", [])
    assert not verdict.approved and verdict.record is None
    assert "triage model promote 1" in verdict.reason


def test_deleting_the_approval_withdraws_it_and_says_so() -> None:
    entries = chain(draft("1", None), draft("2", "1", at=1))
    entries[1] = replace(entries[1], deleted=True)
    verdict = judge("2", entries)
    assert not verdict.approved and verdict.approved_version == "1"
    assert "record #2 (#2 promote v2" in verdict.reason and "was deleted" in verdict.reason


def test_an_altered_approval_approves_nothing() -> None:
    entries = chain(draft("1", None), draft("2", "1", at=1))
    record = entries[1].record
    assert record is not None
    entries[1] = replace(entries[1], record=replace(record, version="3"))  # re-pointed at another version
    verdict = judge("3", entries)
    assert not verdict.approved and "was altered after it was written" in verdict.reason
