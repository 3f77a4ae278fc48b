"""Scoring script of the managed online endpoint: the project's :class:`Predictor` on the deployed model package.

Azure ML's inference server imports this file from the uploaded source tree and calls :func:`init` once and
:func:`run` per request. Request: ``{"tweets": [{"id": "...", "text": "...", "keyword": null}, ...]}`` (or
``{"texts": [...]}``); response: ``{"predictions": [{"id", "label", "confidence", "probabilities",
"model_version"}, ...]}``.

A live deployment (``TRIAGE_SERVING_ROLE=live``, what `triage azure deploy` sets for an approved version) asks the
approval log before it loads anything: if its version is neither the approved production version nor the one that
approval replaced (still serving while traffic shifts), :func:`init` fails, so the deployment never becomes ready.
A ``mirror`` deployment scores mirrored traffic only (its answers are discarded) and is not checked.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

_SOURCE_ROOT = Path(__file__).resolve().parents[4]


def _import_path() -> None:
    """The uploaded tree is not installed: put each folder of the `tweet_triage` namespace package on sys.path."""
    for folder in ("core", "stream", "training", "monitoring", "deploy"):
        path = str(_SOURCE_ROOT / folder)
        if (_SOURCE_ROOT / folder).is_dir() and path not in sys.path:
            sys.path.append(path)


_import_path()  # this script is the entry point: the project's modules below come from the uploaded tree

from tweet_triage.errors import ModelError  # noqa: E402
from tweet_triage.model.approval_gate import UnapprovedModel, gate_for  # noqa: E402
from tweet_triage.model.package import META_FILE, TOKENIZER_DIR  # noqa: E402
from tweet_triage.model.predictor import Predictor  # noqa: E402
from tweet_triage.model.registry import Registry  # noqa: E402
from tweet_triage.settings import load_settings  # noqa: E402

log = logging.getLogger(__name__)
MAX_TWEETS = 256
_predictor: Any = None


def find_package(model_dir: Path) -> Path:
    """The folder holding the model package (its metadata next to its tokenizer) inside the registered model."""
    candidates = sorted(path.parent for path in model_dir.rglob(META_FILE) if (path.parent / TOKENIZER_DIR).is_dir())
    if len(candidates) != 1:
        raise ModelError(f"expected one model package ({META_FILE}) under {model_dir}, found {len(candidates)}")
    return candidates[0]


def init() -> None:
    global _predictor
    model_dir = Path(os.environ.get("AZUREML_MODEL_DIR", "."))
    version = os.environ.get("TRIAGE_MODEL_VERSION", "unknown")
    if os.environ.get("TRIAGE_SERVING_ROLE", "live") != "mirror":
        check_approval(version)
    _predictor = Predictor(
        find_package(model_dir), version=version, threads=int(os.environ.get("TRIAGE_SCORING_THREADS", "2"))
    )
    log.info("loaded model v%s from %s", version, model_dir)


def check_approval(version: str, gate: Any = None) -> None:
    """Raise :class:`~tweet_triage.model.approval_gate.UnapprovedModel` unless ``version`` may serve live traffic."""
    if gate is None:
        registry = Registry(load_settings())
        gate = gate_for(registry)
    verdict = gate.check(version)
    if not (verdict.approved or verdict.outgoing):
        log.critical("not serving v%s on a live slot: %s", version, verdict.reason)
        raise UnapprovedModel(f"refusing to serve v{version} on a live slot: {verdict.reason}")


def parse_request(raw: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
    body = json.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    tweets = [{"text": text} for text in body["texts"]] if "texts" in body else body.get("tweets")
    if not isinstance(tweets, list) or not tweets:
        raise ValueError("give a non-empty list as 'tweets' (objects with 'text') or 'texts' (strings)")
    if len(tweets) > MAX_TWEETS:
        raise ValueError(f"at most {MAX_TWEETS} tweets per request")
    for tweet in tweets:
        if not isinstance(tweet, dict) or not isinstance(tweet.get("text"), str) or not tweet["text"].strip():
            raise ValueError("every tweet needs a non-blank 'text'")
    return tweets


def run(raw_data: str | bytes | dict[str, Any]) -> dict[str, Any]:
    try:
        tweets = parse_request(raw_data)
    except (ValueError, TypeError) as exc:
        return {"error": str(exc)}
    results = _predictor.predict([t["text"] for t in tweets], [t.get("keyword") for t in tweets])
    return {
        "predictions": [
            {**({"id": str(t["id"])} if "id" in t else {}), **p.to_dict()} for t, p in zip(tweets, results, strict=True)
        ]
    }
