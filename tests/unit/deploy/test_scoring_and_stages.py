"""The endpoint's scoring script (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tweet_triage.deploy.azureml import score
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
