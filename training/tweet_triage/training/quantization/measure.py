"""Speed, accuracy against fp32 and batch invariance of candidate graphs, measured on the same tweets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tweet_triage.model.predictor import Predictor
from tweet_triage.training.evaluate import evaluate
from tweet_triage.training.quality import batch_invariance


@dataclass(frozen=True)
class Tweets:
    texts: list[str]
    keywords: list[str | None]
    truth: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int) -> Tweets:
        return Tweets(self.texts[:n], self.keywords[:n], self.truth[:n])


@dataclass(frozen=True)
class Accuracy:
    f1: float
    f1_drop: float
    label_agreement: float
    max_difference: float


def accuracy(
    predictor: Predictor,
    reference: npt.NDArray[np.float32],
    reference_f1: float,
    tweets: Tweets,
    positive_label: str | None,
) -> Accuracy:
    """F1 on ``tweets`` and how close the probabilities come to the fp32 ``reference`` (same tweets, same order)."""
    probabilities = predictor.score(tweets.texts, tweets.keywords).probabilities
    f1 = evaluate(probabilities, tweets.truth, predictor.labels, positive_label).f1
    return Accuracy(
        f1=f1,
        f1_drop=reference_f1 - f1,
        label_agreement=float((probabilities.argmax(1) == reference.argmax(1)).mean()),
        max_difference=float(np.abs(probabilities - reference).max()),
    )


def invariance(predictor: Predictor, tweets: Tweets) -> float:
    """max |p(alone) − p(in a batch)| over mixed-length and length-sorted batches (the pipeline's own check)."""
    return batch_invariance(predictor, tweets.texts, tweets.keywords, tolerance=0.0).max_difference


ScoreAll = Callable[[int], object]  # score the whole sample at a batch size


def speeds(
    scorers: Mapping[str, ScoreAll],
    count: int,
    batch_sizes: Sequence[int],
    repeats: int,
    *,
    clock: Callable[[], float] = time.perf_counter,
    on_pass: Callable[[], None] | None = None,
) -> dict[str, dict[int, float]]:
    """Median tweets/s of every scorer at every batch size (each scores the same ``count`` tweets per pass).

    Passes are interleaved (repeat → batch size → scorer), so a busy moment on the machine slows every candidate
    alike instead of one of them. One warm-up pass per scorer and batch size comes first (allocations, packing).
    """
    timings: dict[str, dict[int, list[float]]] = {name: {b: [] for b in batch_sizes} for name in scorers}
    for size in batch_sizes:
        for score in scorers.values():
            score(size)
    for _ in range(repeats):
        for size in batch_sizes:
            for name, score in scorers.items():
                started = clock()
                score(size)
                timings[name][size].append(clock() - started)
                if on_pass is not None:
                    on_pass()
    return {
        name: {size: count / max(statistics.median(values), 1e-9) for size, values in by_size.items()}
        for name, by_size in timings.items()
    }


def predictor_scorer(predictor: Predictor, tweets: Tweets) -> ScoreAll:
    """Scores ``tweets`` with ``predictor`` at a given batch size, tokenization included."""
    return lambda size: predictor.score(tweets.texts, tweets.keywords, batch_size=size)
