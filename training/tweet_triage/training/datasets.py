"""Known datasets and how to get them: a local mirror folder first, else the public URL, always sha256-checked."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from tweet_triage.errors import DataError
from tweet_triage.training.prepare import PrepareOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetFile:
    name: str
    sha256: str
    url: str
    size: int


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset tweet-triage knows how to fetch and read."""

    name: str
    description: str
    files: tuple[DatasetFile, ...]
    text_column: str
    label_column: str
    id_column: str | None = None
    keyword_column: str | None = None
    label_names: dict[str, str] = field(default_factory=dict)
    licence: str = "unknown"

    @property
    def main_file(self) -> DatasetFile:
        return self.files[0]

    def prepare_options(self, **overrides: Any) -> PrepareOptions:
        """How to read this dataset's file; ``overrides`` replace fields (a conflict policy, a split seed, ...)."""
        options = PrepareOptions(
            text_column=self.text_column,
            label_column=self.label_column,
            id_column=self.id_column,
            keyword_column=self.keyword_column,
            label_names=self.label_names,
        )
        return replace(options, **overrides)


DISASTER_TWEETS = DatasetSpec(
    name="disaster-tweets",
    description='Kaggle "NLP with Disaster Tweets" train split (7,613 labelled tweets, Figure Eight).',
    files=(
        DatasetFile(
            name="train.csv",
            sha256="61111c6dc31eaffa34d1e1fa62e2395325c9bc3b38bba1941a5f1ed9b3fa60df",
            url=(
                "https://raw.githubusercontent.com/IAMPathak2702/Disaster-Tweets/"
                "511af0592def7c147904aa72245ddd9973ead45c/data/nlp-getting-started/train.csv"
            ),
            size=987_712,
        ),
    ),
    text_column="text",
    label_column="target",
    id_column="id",
    keyword_column="keyword",
    label_names={"0": "not_disaster", "1": "disaster"},
    licence="unverified (Kaggle competition data; check before redistribution)",
)

KNOWN_DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (DISASTER_TWEETS,)}


def get_spec(name: str) -> DatasetSpec:
    try:
        return KNOWN_DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(KNOWN_DATASETS))}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def raw_dir(data_dir: Path, name: str) -> Path:
    return data_dir / "raw" / name


def pull(spec: DatasetSpec, *, data_dir: Path, mirror_dir: Path | None, force: bool = False) -> list[Path]:
    """Place every file of ``spec`` under ``DATA_DIR/raw/NAME/``, verified by sha256. Returns their paths."""
    target_dir = raw_dir(data_dir, spec.name)
    target_dir.mkdir(parents=True, exist_ok=True)
    placed = []
    for file in spec.files:
        target = target_dir / file.name
        if not force and target.exists() and sha256_of(target) == file.sha256:
            log.info("%s already present and verified", target)
        elif mirror_dir is not None and (mirror_dir / spec.name / file.name).exists():
            _copy_verified(mirror_dir / spec.name / file.name, target, file)
        elif mirror_dir is not None and (mirror_dir / file.name).exists():
            _copy_verified(mirror_dir / file.name, target, file)
        else:
            _download_verified(file, target)
        placed.append(target)
    return placed


def _copy_verified(source: Path, target: Path, file: DatasetFile) -> None:
    actual = sha256_of(source)
    if actual != file.sha256:
        raise DataError(f"{source}: sha256 {actual} does not match the expected {file.sha256}; the mirror is corrupt")
    shutil.copyfile(source, target)
    log.info("copied %s from mirror %s", file.name, source)


def _download_verified(file: DatasetFile, target: Path) -> None:
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as part:
        tmp = Path(part.name)
        try:
            with (
                httpx.stream("GET", file.url, follow_redirects=True, timeout=60) as response,
                tqdm(total=file.size, unit="B", unit_scale=True, desc=file.name) as progress,
            ):
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    part.write(chunk)
                    digest.update(chunk)
                    progress.update(len(chunk))
        except httpx.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(
                f"could not download {file.url}: {exc}; set TRIAGE_DATA__MIRROR_DIR to a folder that holds {file.name}"
            ) from None
    if digest.hexdigest() != file.sha256:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{file.url}: sha256 {digest.hexdigest()} does not match the expected {file.sha256}")
    tmp.replace(target)
