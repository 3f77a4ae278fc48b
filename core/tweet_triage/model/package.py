"""The model package: everything a scorer needs, in one folder that is logged to and downloaded from the registry.

model.onnx            int8 ONNX graph; outputs `logits` and `embedding` (the representation drift is measured on)
tokenizer/            Hugging Face tokenizer files
package.json          labels, input settings, calibration temperature, lineage
drift_reference.npz   reference sample for the drift monitor, made by this very model (embeddings + probabilities)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import ModelError
from tweet_triage.model.text import NORMALIZATION_VERSION

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
TOKENIZER_DIR = "tokenizer"
META_FILE = "package.json"
DRIFT_REFERENCE_FILE = "drift_reference.npz"
LOGITS_OUTPUT = "logits"
EMBEDDING_OUTPUT = "embedding"


@dataclass(frozen=True)
class PackageMeta:
    labels: list[str]
    positive_label: str | None
    max_length: int
    use_keyword: bool
    temperature: float = 1.0
    normalization_version: str = NORMALIZATION_VERSION
    format_version: int = FORMAT_VERSION
    embedding_dim: int = 0
    quantization: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, str] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (folder / META_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def read(cls, folder: Path) -> PackageMeta:
        try:
            data = json.loads((folder / META_FILE).read_text())
            meta = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{folder} is not a tweet-triage model package: {exc}") from None
        if meta.format_version != FORMAT_VERSION:
            raise ModelError(f"{folder}: package format {meta.format_version}, this release reads {FORMAT_VERSION}")
        if meta.normalization_version != NORMALIZATION_VERSION:
            raise ModelError(
                f"{folder}: trained with text normalization v{meta.normalization_version}, this release applies "
                f"v{NORMALIZATION_VERSION}; retrain or install the matching tweet-triage release"
            )
        return meta


@dataclass(frozen=True)
class DriftReference:
    """A sample of the model's own outputs on held-out data: what "no drift" looks like."""

    embeddings: npt.NDArray[np.float32]
    probabilities: npt.NDArray[np.float32]

    def save(self, folder: Path) -> None:
        np.savez_compressed(folder / DRIFT_REFERENCE_FILE, embeddings=self.embeddings, probabilities=self.probabilities)

    @classmethod
    def load(cls, folder: Path) -> DriftReference:
        try:
            with np.load(folder / DRIFT_REFERENCE_FILE) as data:
                return cls(data["embeddings"].astype(np.float32), data["probabilities"].astype(np.float32))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{folder}: no usable drift reference ({exc})") from None


def check_package(folder: Path, *, need_drift_reference: bool = True) -> PackageMeta:
    """Fail with a clear message unless ``folder`` holds a complete package."""
    meta = PackageMeta.read(folder)
    needed = (MODEL_FILE, TOKENIZER_DIR, DRIFT_REFERENCE_FILE) if need_drift_reference else (MODEL_FILE, TOKENIZER_DIR)
    for needed_file in needed:
        if not (folder / needed_file).exists():
            raise ModelError(f"{folder}: model package is missing {needed_file}")
    return meta
