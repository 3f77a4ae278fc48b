"""The model package: everything a scorer needs, in one folder that is logged to and downloaded from the registry.

graphs/NAME.onnx      one or more evaluated ONNX graphs of the same fine-tuned model (e.g. per-token int8, and a
                      variant whose numerics are the same on every x86 int8 kernel); outputs `logits` and
                      `embedding` (the representation drift is measured on)
self_check.npz        probe tweets (token ids) and each graph's outputs on them, recorded when the package was built:
                      a scorer times the graphs on its own CPU and serves the fastest that reproduces its outputs
tokenizer/            Hugging Face tokenizer files
package.json          labels, input settings, calibration temperature, the operating point (decision threshold and
                      its validation precision/recall), the training languages, the graphs with their evaluation,
                      the CPU the package was built on, lineage
drift_reference.npz   reference sample for the drift monitor, made by this very model (embeddings + probabilities)

The approval of a version covers the whole package: every graph in it passed the same quantization rule.
Format 1 packages (one ``model.onnx``, no self-check) are still read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import ModelError
from tweet_triage.model.operating_point import OperatingPoint
from tweet_triage.model.text import NORMALIZATION_VERSION

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MODEL_FILE = "model.onnx"  # format 1: the package's only graph
GRAPHS_DIR = "graphs"
TOKENIZER_DIR = "tokenizer"
META_FILE = "package.json"
DRIFT_REFERENCE_FILE = "drift_reference.npz"
SELF_CHECK_FILE = "self_check.npz"
LOGITS_OUTPUT = "logits"
EMBEDDING_OUTPUT = "embedding"


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX graph of the package and what the training pipeline measured about it."""

    name: str  # the quantization candidate it came from, e.g. "per-token-int8"
    file: str  # path inside the package
    scheme: dict[str, Any] = field(default_factory=dict)  # how it was made (format, weights, activations, ...)
    portable: bool = True  # same numerics on every x86 int8 GEMM path (AVX2 without VNNI included)
    evaluation: dict[str, float] = field(default_factory=dict)  # validation metrics and speed on the build host


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
    graphs: list[GraphSpec] = field(default_factory=list)  # fastest first on the build host
    built_on: dict[str, Any] = field(default_factory=dict)  # the CPU the graphs were measured on
    lineage: dict[str, str] = field(default_factory=dict)
    operating_point: dict[str, Any] | None = None  # see tweet_triage.model.operating_point; None: most probable label
    languages: list[str] = field(default_factory=list)  # training languages; empty: nothing is out of scope

    @property
    def point(self) -> OperatingPoint | None:
        return OperatingPoint.from_dict(self.operating_point) if self.operating_point else None

    def decision_tags(self) -> dict[str, str]:
        """Registry tags that show how this package decides (``model list``, ``audit model``, ``/v1/model``)."""
        tags = {"languages": ",".join(self.languages)}
        point = self.point
        if point is not None:
            tags |= {
                "operating_point.policy": point.policy,
                "operating_point.threshold": f"{point.threshold:.4f}",
                "operating_point.precision": f"{point.precision:.4f}",
                "operating_point.recall": f"{point.recall:.4f}",
            }
        return tags

    @property
    def graph_names(self) -> list[str]:
        return [g.name for g in self.graphs]

    def graph(self, name: str) -> GraphSpec:
        for spec in self.graphs:
            if spec.name == name:
                return spec
        raise ModelError(f"the package has no graph {name!r}; it has {', '.join(self.graph_names)}")

    def write(self, folder: Path) -> None:
        (folder / META_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def read(cls, folder: Path) -> PackageMeta:
        try:
            data = json.loads((folder / META_FILE).read_text())
            if data.get("format_version") == 1:
                data = _upgrade_format_1(data)
            graphs = [GraphSpec(**g) for g in data.pop("graphs", [])]
            meta = cls(**data, graphs=graphs)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{folder} is not a tweet-triage model package: {exc}") from None
        if meta.format_version not in READABLE_FORMATS:
            raise ModelError(
                f"{folder}: package format {meta.format_version}; this release reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))}"
            )
        if not meta.graphs:
            raise ModelError(f"{folder}: the package lists no ONNX graph")
        if meta.normalization_version != NORMALIZATION_VERSION:
            raise ModelError(
                f"{folder}: trained with text normalization v{meta.normalization_version}, this release applies "
                f"v{NORMALIZATION_VERSION}; retrain or install the matching tweet-triage release"
            )
        return meta


def _upgrade_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """A format 1 package: one graph in model.onnx, its scheme in ``quantization``."""
    upgraded = dict(data)
    scheme = upgraded.pop("quantization", {}) or {}
    upgraded["graphs"] = [asdict(GraphSpec(name=str(scheme.get("scheme", "model")), file=MODEL_FILE, scheme=scheme))]
    return upgraded


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


@dataclass(frozen=True)
class SelfCheckProbe:
    """Probe tweets (token ids) and each graph's logits on them, as recorded on the build host."""

    token_ids: list[list[int]]
    logits: dict[str, npt.NDArray[np.float32]]  # graph name -> [tweets, labels]

    def save(self, folder: Path) -> None:
        lengths = np.array([len(ids) for ids in self.token_ids], np.int64)
        flat = np.concatenate([np.asarray(ids, np.int64) for ids in self.token_ids])
        arrays = {f"logits__{name}": value for name, value in self.logits.items()}
        np.savez_compressed(folder / SELF_CHECK_FILE, token_ids=flat, lengths=lengths, **arrays)

    @classmethod
    def load(cls, folder: Path) -> SelfCheckProbe | None:
        """The probe, or None for a package without one (format 1)."""
        path = folder / SELF_CHECK_FILE
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                bounds = np.cumsum(data["lengths"])[:-1]
                token_ids = [chunk.tolist() for chunk in np.split(data["token_ids"], bounds)]
                logits = {
                    key.removeprefix("logits__"): data[key].astype(np.float32)
                    for key in data.files
                    if key.startswith("logits__")
                }
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{folder}: unreadable {SELF_CHECK_FILE} ({exc})") from None
        return cls(token_ids, logits)


def check_package(folder: Path, *, need_drift_reference: bool = True) -> PackageMeta:
    """Fail with a clear message unless ``folder`` holds a complete package."""
    meta = PackageMeta.read(folder)
    needed = [TOKENIZER_DIR, *(g.file for g in meta.graphs)]
    if need_drift_reference:
        needed.append(DRIFT_REFERENCE_FILE)
    for needed_file in needed:
        if not (folder / needed_file).exists():
            raise ModelError(f"{folder}: model package is missing {needed_file}")
    return meta


def graph_file(name: str) -> str:
    """Where a graph called ``name`` lives inside a package."""
    return f"{GRAPHS_DIR}/{name}.onnx"


def with_graphs(meta: PackageMeta, graphs: list[GraphSpec], built_on: dict[str, Any]) -> PackageMeta:
    return replace(meta, graphs=graphs, built_on=built_on, format_version=FORMAT_VERSION)
