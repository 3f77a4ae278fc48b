from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tweet_triage.errors import DataError
from tweet_triage.training.datasets import DatasetFile, DatasetSpec, pull


def spec_for(content: bytes) -> DatasetSpec:
    return DatasetSpec(
        name="tiny",
        description="test",
        files=(
            DatasetFile("train.csv", hashlib.sha256(content).hexdigest(), "http://127.0.0.1:9/none.csv", len(content)),
        ),
        text_column="text",
        label_column="label",
    )


def test_pull_copies_from_the_mirror_and_verifies(tmp_path: Path) -> None:
    content = b"text,label\nhello,1\n"
    (tmp_path / "mirror" / "tiny").mkdir(parents=True)
    (tmp_path / "mirror" / "tiny" / "train.csv").write_bytes(content)
    [placed] = pull(spec_for(content), data_dir=tmp_path / "data", mirror_dir=tmp_path / "mirror")
    assert placed.read_bytes() == content


def test_a_corrupt_mirror_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mirror" / "tiny").mkdir(parents=True)
    (tmp_path / "mirror" / "tiny" / "train.csv").write_bytes(b"tampered")
    with pytest.raises(DataError, match="does not match the expected"):
        pull(spec_for(b"original"), data_dir=tmp_path / "data", mirror_dir=tmp_path / "mirror")
    assert not (tmp_path / "data" / "raw" / "tiny" / "train.csv").exists()


def test_unreachable_url_without_mirror_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="TRIAGE_DATA__MIRROR_DIR"):
        pull(spec_for(b"x"), data_dir=tmp_path / "data", mirror_dir=None)
