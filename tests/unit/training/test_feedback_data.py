"""Feedback joins the train split only: new tweets added, train texts relabelled, held-out texts left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tweet_triage.errors import DataError
from tweet_triage.training.feedback_data import LabelledTweet, read_feedback_csv, with_feedback
from tweet_triage.training.prepare import DataReport, Example, PreparedDataset, PrepareOptions

BASE = PreparedDataset(
    version="ds-base",
    labels=["disaster", "not_disaster"],
    splits={
        "train": [Example("1", "house on fire", "disaster"), Example("2", "my mixtape is fire", "not_disaster")],
        "validation": [Example("3", "flood on main street", "disaster")],
        "test": [Example("4", "earthquake downtown", "disaster")],
    },
    report=DataReport("base.csv", "sha", 4, 4, {}, {}, 0, 0, []),
    options=PrepareOptions(),
)


def test_no_feedback_changes_nothing() -> None:
    merged = with_feedback(BASE, [])
    assert with_feedback(merged.dataset, []).dataset.version == merged.dataset.version
    assert sorted(merged.dataset.splits["train"], key=lambda e: e.id) == BASE.splits["train"]
    assert (merged.added, merged.relabelled, merged.left_out) == (0, 0, [])


def test_feedback_adds_relabels_and_never_touches_held_out_splits() -> None:
    merge = with_feedback(
        BASE,
        [
            LabelledTweet("10", "Bridge collapsed on route 9", "disaster"),
            LabelledTweet("11", "MY MIXTAPE IS FIRE", "disaster"),  # a person disagrees with the base label
            LabelledTweet("12", "earthquake downtown", "not_disaster"),  # in test: would leak
        ],
    )
    train = {e.text.casefold(): e.label for e in merge.dataset.splits["train"]}
    assert train["bridge collapsed on route 9"] == "disaster"
    assert train["my mixtape is fire"] == "disaster"
    assert merge.dataset.splits["test"] == BASE.splits["test"]
    assert merge.dataset.splits["validation"] == BASE.splits["validation"]
    assert (merge.added, merge.relabelled) == (1, 1)
    assert [d.id for d in merge.left_out] == ["12"]
    assert merge.dataset.version != BASE.version
    assert merge.dataset.report.dropped[-1].reason.startswith("feedback:")


def test_unknown_labels_are_refused_by_name() -> None:
    with pytest.raises(DataError, match="maybe"):
        with_feedback(BASE, [LabelledTweet("10", "x y z", "maybe")])


def test_feedback_csv_files_are_read_by_label_name_and_blank_rows_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "tweet_id,text,label\nt1,lovely day,not_disaster\nt2,bridge collapsed,disaster\nt3,,disaster\n",
        encoding="utf-8",
    )
    (tmp_path / "b.csv").write_text("text,label\nflood on route 9,disaster\n", encoding="utf-8")
    labelled = read_feedback_csv(tmp_path)
    assert [(t.tweet_id, t.text, t.label) for t in labelled] == [
        ("t1", "lovely day", "not_disaster"),
        ("t2", "bridge collapsed", "disaster"),
        ("b-2", "flood on route 9", "disaster"),
    ]
    assert read_feedback_csv(tmp_path / "a.csv") == labelled[:2]
    assert with_feedback(BASE, labelled).added == 3
