"""Score tweets with a model package: normalization, tokenization, length-sorted batches, ONNX Runtime.

A tweet's scores do not depend on the other tweets in its batch (the package's quantization scheme guarantees it and the
training pipeline measures it), so sorting by length to cut padding is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.errors import ModelError
from tweet_triage.model.package import (
    EMBEDDING_OUTPUT,
    LOGITS_OUTPUT,
    MODEL_FILE,
    TOKENIZER_DIR,
    PackageMeta,
    check_package,
)
from tweet_triage.model.text import model_input

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]
    model_version: str
    embedding: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class ScoredBatch:
    """Raw arrays for a batch of tweets, in input order."""

    probabilities: npt.NDArray[np.float32]
    embeddings: npt.NDArray[np.float32]


class Predictor:
    """Loads one model package; thread-compatible for reads (ONNX Runtime sessions are)."""

    def __init__(self, folder: Path, *, version: str, threads: int = 2, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.meta: PackageMeta = check_package(folder, need_drift_reference=False)
        self.version = version
        self.folder = folder
        self.batch_size = batch_size
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(folder / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder / TOKENIZER_DIR), local_files_only=True)
        except Exception as exc:  # onnxruntime and transformers raise many unrelated types
            raise ModelError(f"cannot load the model package in {folder}: {exc}") from exc
        self._input_names = {i.name for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        if not {LOGITS_OUTPUT, EMBEDDING_OUTPUT} <= outputs:
            raise ModelError(f"{folder / MODEL_FILE} must have outputs {LOGITS_OUTPUT!r} and {EMBEDDING_OUTPUT!r}")

    @property
    def labels(self) -> list[str]:
        return self.meta.labels

    def inputs(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> list[str]:
        keywords = keywords if keywords is not None else [None] * len(texts)
        return [model_input(t, k, use_keyword=self.meta.use_keyword) for t, k in zip(texts, keywords, strict=True)]

    def score(
        self,
        texts: Sequence[str],
        keywords: Sequence[str | None] | None = None,
        *,
        batch_size: int | None = None,
        sort_by_length: bool = True,
    ) -> ScoredBatch:
        """Probabilities and embeddings for ``texts`` (raw tweets), in input order.

        Batches are cut after sorting by token length (less padding, faster); ``sort_by_length=False`` keeps the
        input order, which the batch-invariance check uses to mix long and short tweets in one batch.
        """
        batch_size = batch_size or self.batch_size
        encoded = self.token_ids(texts, keywords)
        if not encoded:
            empty = np.zeros((0, self.meta.embedding_dim), np.float32)
            return ScoredBatch(np.zeros((0, len(self.labels)), np.float32), empty)
        lengths = [len(ids) for ids in encoded]
        order = np.argsort(lengths, kind="stable") if sort_by_length else np.arange(len(encoded))
        chunks = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        outputs = [self._run([encoded[i] for i in chunk]) for chunk in chunks]
        positions = np.argsort(np.concatenate(chunks), kind="stable")  # back to input order
        probabilities = softmax(np.concatenate([logits for logits, _ in outputs]) / self.meta.temperature)[positions]
        embeddings = np.concatenate([embedding for _, embedding in outputs])[positions]
        return ScoredBatch(probabilities, embeddings)

    def token_ids(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> list[list[int]]:
        """Token ids of the model inputs (normalized text, keyword prefix when the model uses it), unpadded."""
        prepared = self.inputs(texts, keywords)
        if not prepared:
            return []
        return list(self._tokenizer(prepared, truncation=True, max_length=self.meta.max_length)["input_ids"])

    @property
    def input_names(self) -> set[str]:
        return set(self._input_names)

    def predict(
        self, texts: Sequence[str], keywords: Sequence[str | None] | None = None, *, with_embeddings: bool = False
    ) -> list[Prediction]:
        scored = self.score(texts, keywords)
        results = []
        for row, probs in enumerate(scored.probabilities):
            best = int(np.argmax(probs))
            results.append(
                Prediction(
                    label=self.labels[best],
                    confidence=float(probs[best]),
                    probabilities={label: float(p) for label, p in zip(self.labels, probs, strict=True)},
                    model_version=self.version,
                    embedding=scored.embeddings[row] if with_embeddings else None,
                )
            )
        return results

    def _run(self, token_ids: list[list[int]]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        width = max(len(ids) for ids in token_ids)
        pad = self._tokenizer.pad_token_id or 0
        input_ids = np.full((len(token_ids), width), pad, dtype=np.int64)
        attention = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        started = time.perf_counter()
        logits, embedding = self._session.run([LOGITS_OUTPUT, EMBEDDING_OUTPUT], feed)
        log.debug(
            "scored %d tweets (width %d) in %.1f ms", len(token_ids), width, 1e3 * (time.perf_counter() - started)
        )
        return np.asarray(logits, np.float32), np.asarray(embedding, np.float32)


def softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: npt.NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities
