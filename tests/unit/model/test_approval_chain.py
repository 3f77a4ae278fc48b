"""The approval log's hash chain and its verification, on made-up log entries (no MLflow)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.model.approval_entries import anchors_of, chain, draft
from tweet_triage.model.approval_chain import verify_chain
from tweet_triage.model.approvals import GENESIS, Action, LogEntry, from_tags, production_head, to_tags


@pytest.fixture
def entries() -> list[LogEntry]:
    return chain(draft("1", None), draft("2", "1", at=1), draft("3", "2", at=2))


def test_a_record_survives_its_tags_and_its_hash_covers_every_field() -> None:
    sealed = draft("4", "3").sealed(seq=7, prev_hash="ab" * 32)
    assert from_tags(to_tags(sealed)) == sealed and sealed.intact()
    for change in ({"approver": "mallory"}, {"version": "5"}, {"reason": "x"}, {"seq": 8}, {"prev_hash": "00"}):
        assert not replace(sealed, **change).intact(), change


def test_an_untouched_chain_verifies(entries: list[LogEntry]) -> None:
    report = verify_chain(entries, anchors_of(entries), production="3")
    assert report.ok, report.problems
    assert report.records == 3 and report.head is not None and report.head.version == "3"


def test_an_edited_record_is_named(entries: list[LogEntry]) -> None:
    edited = entries[1].record
    assert edited is not None
    entries[1] = replace(entries[1], record=replace(edited, approver="somebody else"))
    report = verify_chain(
        entries, anchors_of(chain(draft("1", None), draft("2", "1", at=1), draft("3", "2", at=2))), "3"
    )
    assert report.first is not None and report.first.seq == 2
    assert "record #2 (run run2" in report.first.message and "was altered" in report.first.message


def test_a_record_rewritten_with_a_fresh_hash_breaks_the_link_and_the_registry_copy(entries: list[LogEntry]) -> None:
    original = anchors_of(entries)
    first = entries[0].record
    assert first is not None
    entries[0] = replace(entries[0], record=replace(first, reason="rewritten").sealed(seq=1, prev_hash=GENESIS))
    report = verify_chain(entries, original, "3")
    assert report.first is not None and report.first.seq == 1
    messages = " | ".join(p.message for p in report.problems)
    assert "differs from the registry's history" in messages and "link from record #2 to #1 is broken" in messages


def test_a_deleted_record_is_named_and_approves_nothing(entries: list[LogEntry]) -> None:
    anchors = anchors_of(entries)
    entries[2] = replace(entries[2], deleted=True)
    report = verify_chain(entries, anchors, "3")
    assert report.first is not None and report.first.seq == 3 and "was deleted" in report.first.message
    assert production_head(entries) is not None and production_head(entries).version == "2"  # type: ignore[union-attr]
    assert any("production points at v3, but the last approval (#2" in p.message for p in report.problems)


def test_a_purged_record_leaves_a_gap_and_a_truncated_tail_leaves_registry_tags(entries: list[LogEntry]) -> None:
    anchors = anchors_of(entries)
    gap = verify_chain([entries[0], entries[2]], anchors, "3")
    assert gap.first is not None and gap.first.seq == 2 and "record #2 is missing" in gap.first.message
    assert "'promote v2 " in gap.first.message  # what the registry still remembers of it
    tail = verify_chain(entries[:2], anchors, "3")
    assert tail.first is not None and tail.first.seq == 3 and "record #3 is missing" in tail.first.message


def test_a_move_without_a_record_is_reported(entries: list[LogEntry]) -> None:
    report = verify_chain(entries, anchors_of(entries), production="9")
    assert [p.seq for p in report.problems] == [None]
    assert "production points at v9" in report.problems[0].message
    assert "moved without an approval record" in report.problems[0].message


def test_a_record_that_lies_about_what_it_replaced_is_reported() -> None:
    entries = chain(draft("1", None), draft("2", "1", at=1), draft("3", "1", at=2))
    report = verify_chain(entries, anchors_of(entries), "3")
    assert report.first is not None and report.first.seq == 3 and "says it replaced v1" in report.first.message


def test_resolving_an_unapproved_move_is_a_note_not_a_break() -> None:
    entries = chain(draft("1", None), replace(draft("5", "1", at=1), alias_before="5"))
    report = verify_chain(entries, anchors_of(entries), "5")
    assert report.ok and any("resolved a move nobody approved: production pointed at v5" in n for n in report.notes)


def test_records_from_before_the_chain_are_noted_and_slot_records_keep_the_production_head() -> None:
    entries = chain(draft("1", None), draft("1", "0", action=Action.SLOT, at=1))
    legacy = LogEntry("old", False, draft("0", None))
    report = verify_chain([legacy, *entries], anchors_of(entries), "1")
    assert report.ok, report.problems
    assert report.head is not None and report.head.version == "1" and report.head.seq == 1
    assert any("predate the hash chain" in n for n in report.notes)
