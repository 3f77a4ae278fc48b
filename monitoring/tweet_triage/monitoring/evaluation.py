"""Replays for evaluating the monitor (``make bench-drift`` and the integration tests).

* **In-distribution** tweets: the held-out test split, which the drift reference (built from the validation split)
  never saw.
* **Shifted** streams, each a different real-world change: ``emergencies`` (only tweets people labelled as real
  disasters: a crisis breaks out), ``documentation`` (English sentences of another source and kind: the Python
  standard library's documentation, available offline everywhere) and ``one-topic`` (tweets about one hazard only).

Scoring uses the real predictor, so the events carry the same embedding and probabilities the worker would publish.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Sequence

from tweet_triage.clock import utc_now
from tweet_triage.contracts.scored import ScoredEvent, encode_embedding
from tweet_triage.model.predictor import Predictor

_DOC_MODULES = (
    "json", "pathlib", "argparse", "collections", "csv", "datetime", "email.message", "http.client", "logging",
    "os", "shutil", "subprocess", "tarfile", "threading", "urllib.request", "zipfile", "sqlite3", "socket",
    "asyncio.streams", "decimal", "fractions", "statistics", "textwrap", "unittest.case", "xml.dom.minidom",
)  # fmt: skip
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def documentation_sentences(limit: int) -> list[str]:
    """Up to ``limit`` distinct sentences (30–200 characters) from standard-library docstrings, in a fixed order."""
    seen: set[str] = set()
    sentences: list[str] = []
    for name in _DOC_MODULES:
        module = importlib.import_module(name)
        objects = [module, *(value for _, value in sorted(vars(module).items()) if not _.startswith("_"))]
        for obj in objects:
            doc = inspect.getdoc(obj) if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj) else None
            for raw in _SENTENCE.split(" ".join((doc or "").split())):
                sentence = raw.strip()
                if 30 <= len(sentence) <= 200 and sentence not in seen and not sentence.startswith(">>>"):
                    seen.add(sentence)
                    sentences.append(sentence)
                    if len(sentences) >= limit:
                        return sentences
    return sentences


def scored_events(
    predictor: Predictor,
    texts: Sequence[str],
    *,
    model_version: str,
    id_prefix: str,
    keywords: Sequence[str | None] | None = None,
) -> list[ScoredEvent]:
    """What the worker would publish to ``tweets-scored`` for these texts."""
    batch = predictor.score(list(texts), list(keywords) if keywords is not None else None)
    labels = predictor.labels
    now = utc_now()
    events = []
    decisions = predictor.decide(batch.probabilities)
    languages = predictor.languages(list(texts))
    rows = zip(batch.probabilities, batch.embeddings, decisions, languages, strict=True)
    for i, (probabilities, embedding, decision, language) in enumerate(rows):
        events.append(
            ScoredEvent(
                id=f"{id_prefix}-{i}",
                label=decision.label,
                confidence=decision.confidence,
                threshold=decision.threshold,
                operating_point=decision.operating_point,
                language=language.code,
                out_of_scope=language.out_of_scope(),
                probabilities={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
                model_version=model_version,
                embedding_f16=encode_embedding(embedding),
                scored_at=now,
            )
        )
    return events
