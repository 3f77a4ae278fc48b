"""The endpoint's scoring script and the feedback merge of the prepare stage (no model needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tweet_triage.deploy.azureml import score
from tweet_triage.deploy.azureml.stages import merge_feedback
from tweet_triage.errors import ModelError


def test_requests_are_parsed_and_bad_ones_refused() -> None:
    assert score.parse_request('{"texts": ["fire downtown"]}') == [{"text": "fire downtown"}]
    tweets = score.parse_request({"tweets": [{"id": "7", "text": "flood", "keyword": "flood"}]})
    assert tweets == [{"id": "7", "text": "flood", "keyword": "flood"}]
    for bad in ("[]", '{"tweets": []}', '{"tweets": [{"text": "  "}]}', '{"texts": [' + '"a",' * 300 + '"a"]}'):
        with pytest.raises(ValueError):
            score.parse_request(bad)
    assert "error" in score.run('{"tweets": "nope"}')


def test_the_model_package_is_found_inside_the_registered_model(tmp_path: Path) -> None:
    package = tmp_path / "tweet-triage" / "3" / "package"
    package.mkdir(parents=True)
    (package / "model.onnx").write_bytes(b"")
    assert score.find_package(tmp_path) == package
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="found 2"):
        score.find_package(tmp_path)


def test_feedback_labels_are_appended_with_raw_label_values(tmp_path: Path) -> None:
    raw = tmp_path / "train.csv"
    raw.write_text("id,keyword,text,target\n1,fire,house on fire,1\n", encoding="utf-8")
    feedback = tmp_path / "feedback"
    feedback.mkdir()
    (feedback / "a.csv").write_text(
        "tweet_id,text,label\nt1,lovely day,not_disaster\nt2,bridge collapsed,disaster\nt3,,disaster\n",
        encoding="utf-8",
    )
    out = tmp_path / "merged.csv"
    added = merge_feedback(raw, feedback, out, "text", "target", {"0": "not_disaster", "1": "disaster"})
    assert added == 2
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["text"], r["target"]) for r in rows] == [
        ("house on fire", "1"),
        ("lovely day", "0"),
        ("bridge collapsed", "1"),
    ]
