from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tweet_triage.errors import DataError
from tweet_triage.training.prepare import PrepareOptions, load, prepare, write


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tweets(n: int, labels: tuple[str, ...] = ("0", "1")) -> list[list[str]]:
    return [
        [str(i), f"tweet number {i} about {'fire' if i % 2 else 'music'}", labels[i % len(labels)]] for i in range(n)
    ]


OPTIONS = PrepareOptions(text_column="text", label_column="target", id_column="id")


def test_missing_column_names_file_and_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", ["id", "tweet", "target"], tweets(10))
    with pytest.raises(DataError, match=r"bad\.csv: missing column\(s\) 'text'; the file has: id, tweet, target"):
        prepare(path, OPTIONS, "x")


def test_empty_label_names_file_row_and_column(tmp_path: Path) -> None:
    rows = tweets(10)
    rows[3][2] = ""
    path = write_csv(tmp_path / "labels.csv", ["id", "text", "target"], rows)
    with pytest.raises(DataError, match=r"labels\.csv, row 4 \(id 3\), column 'target': empty label"):
        prepare(path, OPTIONS, "x")


def test_extra_fields_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("id,text,target\n1,hello,0,surprise\n")
    with pytest.raises(DataError, match=r"ragged\.csv, row 1: more fields than the header"):
        prepare(path, OPTIONS, "x")
    with pytest.raises(DataError, match="cannot open"):
        prepare(tmp_path / "nope.csv", OPTIONS, "x")


def test_duplicates_and_conflicts_follow_the_policy_and_are_reported(tmp_path: Path) -> None:
    rows = tweets(30)
    rows += [["100", "FIRE at the mall", "1"], ["101", "fire at the mall", "1"], ["102", "Fire at the mall", "0"]]
    rows += [["200", "tie here", "1"], ["201", "tie here", "0"], ["300", "   ", "1"]]
    path = write_csv(tmp_path / "d.csv", ["id", "text", "target"], rows)
    majority = prepare(path, OPTIONS, "x")
    kept_ids = {e.id for split in majority.splits.values() for e in split}
    assert "100" in kept_ids and not {"101", "102", "200", "201", "300"} & kept_ids
    reasons = {d.id: d.reason for d in majority.report.dropped}
    assert reasons["300"] == "blank text"
    assert "majority 1" in reasons["102"]
    assert "tie" in reasons["200"] and "tie" in reasons["201"]
    assert majority.report.rows_read == 36
    assert majority.report.rows_kept + len(majority.report.dropped) == 36

    dropped = prepare(path, PrepareOptions(text_column="text", label_column="target", conflict_policy="drop"), "x")
    kept_ids = {e.id for split in dropped.splits.values() for e in split}
    assert not {"100", "101", "102"} & kept_ids


def test_split_is_deterministic_stratified_and_independent_of_row_order(tmp_path: Path) -> None:
    rows = tweets(200)
    a = prepare(write_csv(tmp_path / "a.csv", ["id", "text", "target"], rows), OPTIONS, "x")
    b = prepare(write_csv(tmp_path / "b.csv", ["id", "text", "target"], list(reversed(rows))), OPTIONS, "x")
    assert a.version == b.version
    assert {k: {e.id for e in v} for k, v in a.splits.items()} == {k: {e.id for e in v} for k, v in b.splits.items()}
    assert [len(a.splits[s]) for s in ("train", "validation", "test")] == [140, 30, 30]
    assert a.report.label_counts["test"] == {"0": 15, "1": 15}
    other_seed = prepare(
        tmp_path / "a.csv", PrepareOptions(text_column="text", label_column="target", id_column="id", split_seed=1), "x"
    )
    assert other_seed.version != a.version


def test_multiclass_labels_come_from_the_data_and_round_trip(tmp_path: Path) -> None:
    rows = tweets(90, labels=("flood", "fire", "other"))
    path = write_csv(tmp_path / "m.csv", ["id", "text", "category"], rows)
    dataset = prepare(path, PrepareOptions(text_column="text", label_column="category", id_column="id"), "x")
    assert dataset.labels == ["fire", "flood", "other"]
    assert dataset.positive_label is None
    written = write(dataset, tmp_path / "prepared")
    assert written.path is not None and (written.path / "report.md").exists()
    again = load(written.path)
    assert again.version == dataset.version and again.splits == dataset.splits and again.labels == dataset.labels


def test_binary_positive_label_uses_label_names(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", ["id", "text", "target"], tweets(40))
    named = prepare(path, PrepareOptions(label_names={"0": "other", "1": "disaster"}), "x")
    assert named.labels == ["disaster", "other"]
    assert named.positive_label == "disaster"
