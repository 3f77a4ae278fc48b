"""Score tweets with a model package: normalization, tokenization, length-sorted batches, ONNX Runtime.

A tweet's scores do not depend on the other tweets in its batch (the package's quantization rule requires it and the
training pipeline measures it on every graph), so sorting by length to cut padding is safe. A package may hold more
than one graph of the same model; the predictor serves the one its self-check finds fastest on this CPU among those
that reproduce their recorded outputs (:mod:`tweet_triage.model.self_check`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from tweet_triage.errors import ModelError
from tweet_triage.model.calibration import softmax
from tweet_triage.model.language import Language, identify_all
from tweet_triage.model.operating_point import ARGMAX, Decision, OperatingPoint, decisions
from tweet_triage.model.package import (
    EMBEDDING_OUTPUT,
    LOGITS_OUTPUT,
    TOKENIZER_DIR,
    PackageMeta,
    SelfCheckProbe,
    check_package,
)
from tweet_triage.model.self_check import HostChoice, RunGraph, choose_graph
from tweet_triage.model.text import model_input
from tweet_triage.model.tokenizer import PackageTokenizer

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
MAX_PADDED_TOKENS = 128  # tokens of a serving batch once padded: about 5 tweets of average length, 2 of the longest


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]
    model_version: str
    threshold: float | None = None  # the operating point's threshold that made the label (None: most probable)
    operating_point: str = ARGMAX
    language: str | None = None
    out_of_scope: bool = False  # sure to be in a language the model was not trained on
    embedding: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "model_version": self.model_version,
            "threshold": self.threshold,
            "operating_point": self.operating_point,
            "language": self.language,
            "out_of_scope": self.out_of_scope,
        }


@dataclass(frozen=True)
class _Session:
    onnx: Any  # onnxruntime.InferenceSession
    input_names: frozenset[str]


@dataclass(frozen=True)
class ScoredBatch:
    """Raw arrays for a batch of tweets, in input order."""

    probabilities: npt.NDArray[np.float32]
    embeddings: npt.NDArray[np.float32]


class Predictor:
    """Loads one model package; thread-compatible for reads (ONNX Runtime sessions are)."""

    def __init__(
        self,
        folder: Path,
        *,
        version: str,
        threads: int = 2,
        batch_size: int = DEFAULT_BATCH_SIZE,
        graph: str | None = None,
    ) -> None:
        """Load the package in ``folder``; ``graph`` forces one of its graphs instead of the self-check's choice.

        ``threads`` is how many cores scoring may use: batches run concurrently, one core each (ONNX Runtime
        releases the GIL), which keeps both cores busy without the thread-pool synchronisation that dominates
        small elementwise ops when one batch is split across cores.
        """
        self.meta: PackageMeta = check_package(folder, need_drift_reference=False)
        self.version = version
        self.folder = folder
        self.batch_size = batch_size
        self.threads = max(1, threads)
        self._tokenizer = PackageTokenizer(folder / TOKENIZER_DIR, max_length=self.meta.max_length)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx") if self.threads > 1 else None
        names = [graph] if graph is not None else self.meta.graph_names
        sessions = {name: self._open(self.meta.graph(name).file) for name in names}
        self.host_choice: HostChoice | None = None
        probe = SelfCheckProbe.load(folder) if len(sessions) > 1 else None
        if probe is not None:
            self.host_choice = choose_graph(
                {name: self._runner(session) for name, session in sessions.items()},
                probe.token_ids,
                probe.logits,
                temperature=self.meta.temperature,
            )
            log.info("model v%s: %s", version, self.host_choice.summary())
            self.graph = self.host_choice.chosen
        else:
            self.graph = names[0]
        self._session = sessions[self.graph]

    def _open(self, file: str) -> _Session:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallelism comes from concurrent batches (see __init__)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = self.folder / file
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises many unrelated types
            raise ModelError(f"cannot load {path}: {exc}") from exc
        outputs = {o.name for o in session.get_outputs()}
        if not {LOGITS_OUTPUT, EMBEDDING_OUTPUT} <= outputs:
            raise ModelError(f"{path} must have outputs {LOGITS_OUTPUT!r} and {EMBEDDING_OUTPUT!r}")
        return _Session(session, frozenset(i.name for i in session.get_inputs()))

    def _runner(self, session: _Session) -> RunGraph:
        def run(token_ids: Sequence[list[int]]) -> npt.NDArray[np.float32]:
            logits, _ = self._run_session(session, list(token_ids))
            return logits

        return run

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

        The tweets are sorted by token length and cut into small batches of at most :data:`MAX_PADDED_TOKENS` tokens
        once padded (at most ``self.batch_size`` tweets): a batch costs what its longest tweet times its size costs,
        and attention grows with the square of the length, so a micro-batch of 64 arriving tweets scored in two
        batches of 32 cost 1.7 times what it costs in batches of about 4 (docs/capacity.md). An explicit
        ``batch_size`` cuts batches of exactly that many instead (the quantization study times given sizes);
        ``sort_by_length=False`` keeps the input order, which the batch-invariance check uses to mix long and short
        tweets in one batch. A tweet's scores do not depend on its batch (see the module docstring).
        """
        encoded = self.token_ids(texts, keywords)
        if not encoded:
            empty = np.zeros((0, self.meta.embedding_dim), np.float32)
            return ScoredBatch(np.zeros((0, len(self.labels)), np.float32), empty)
        lengths = [len(ids) for ids in encoded]
        order = np.argsort(lengths, kind="stable") if sort_by_length else np.arange(len(encoded))
        if batch_size is None and sort_by_length:
            chunks = padded_token_chunks(order, lengths, MAX_PADDED_TOKENS, self.batch_size)
        else:  # enough chunks to keep every core busy, none larger than batch_size
            size = max(1, min(batch_size or self.batch_size, -(-len(order) // self.threads)))
            chunks = [order[start : start + size] for start in range(0, len(order), size)]
        batches = [[encoded[i] for i in chunk] for chunk in chunks]
        if self._pool is not None and len(batches) > 1:
            outputs = list(self._pool.map(self._run, batches))
        else:
            outputs = [self._run(batch) for batch in batches]
        positions = np.argsort(np.concatenate(chunks), kind="stable")  # back to input order
        probabilities = softmax(np.concatenate([logits for logits, _ in outputs]), self.meta.temperature)[positions]
        embeddings = np.concatenate([embedding for _, embedding in outputs])[positions]
        return ScoredBatch(probabilities, embeddings)

    def token_ids(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> list[list[int]]:
        """Token ids of the model inputs (normalized text, keyword prefix when the model uses it), unpadded."""
        prepared = self.inputs(texts, keywords)
        if not prepared:
            return []
        return self._tokenizer.encode(prepared)

    @property
    def input_names(self) -> set[str]:
        return set(self._session.input_names)

    @property
    def operating_point(self) -> OperatingPoint | None:
        return self.meta.point

    def decide(self, probabilities: npt.NDArray[np.float32]) -> list[Decision]:
        """The label of each row of ``probabilities`` at the package's operating point (the one rule every path
        that labels tweets uses: stream, API, CLI, monitors)."""
        return decisions(probabilities, self.labels, self.meta.point)

    def languages(self, texts: Sequence[str]) -> list[Language]:
        """The language of each tweet, and whether it is outside the package's training languages."""
        return identify_all(texts, self.meta.languages)

    def predict(
        self, texts: Sequence[str], keywords: Sequence[str | None] | None = None, *, with_embeddings: bool = False
    ) -> list[Prediction]:
        scored = self.score(texts, keywords)
        results = []
        decisions = self.decide(scored.probabilities)
        languages = self.languages(texts)
        for row, (probs, decision, language) in enumerate(zip(scored.probabilities, decisions, languages, strict=True)):
            results.append(
                Prediction(
                    label=decision.label,
                    confidence=decision.confidence,
                    probabilities={label: float(p) for label, p in zip(self.labels, probs, strict=True)},
                    model_version=self.version,
                    threshold=decision.threshold,
                    operating_point=decision.operating_point,
                    language=language.code,
                    out_of_scope=language.out_of_scope(),
                    embedding=scored.embeddings[row] if with_embeddings else None,
                )
            )
        return results

    def logits(self, token_ids: Sequence[list[int]]) -> npt.NDArray[np.float32]:
        """Raw logits of tokenized tweets scored as one padded batch (how the self-check's probe is recorded)."""
        return self._run(list(token_ids))[0]

    def _run(self, token_ids: list[list[int]]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        return self._run_session(self._session, token_ids)

    def _run_session(
        self, session: _Session, token_ids: list[list[int]]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        width = max(len(ids) for ids in token_ids)
        pad = self._tokenizer.pad_id
        input_ids = np.full((len(token_ids), width), pad, dtype=np.int64)
        attention = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in session.input_names:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        started = time.perf_counter()
        logits, embedding = session.onnx.run([LOGITS_OUTPUT, EMBEDDING_OUTPUT], feed)
        log.debug(
            "scored %d tweets (width %d) in %.1f ms", len(token_ids), width, 1e3 * (time.perf_counter() - started)
        )
        return np.asarray(logits, np.float32), np.asarray(embedding, np.float32)


def padded_token_chunks(
    order: npt.NDArray[np.intp], lengths: Sequence[int], max_tokens: int, max_size: int
) -> list[npt.NDArray[np.intp]]:
    """``order`` (indices sorted by length) cut into runs whose size times their longest length stays within
    ``max_tokens`` (a run holds at least one tweet, at most ``max_size``)."""
    chunks: list[npt.NDArray[np.intp]] = []
    start = 0
    for end in range(1, len(order) + 1):
        size = end - start
        if end == len(order) or size == max_size or (size + 1) * lengths[order[end]] > max_tokens:
            chunks.append(order[start:end])
            start = end
    return chunks
