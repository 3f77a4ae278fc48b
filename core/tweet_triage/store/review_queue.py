"""The review queue: which stored tweets most need a person's label (uncertainty sampling, the active-learning rule).

A label teaches the model most where the model is least sure: the tweets closest to a coin toss. So the queue lists
predictions by their *margin* (:func:`tweet_triage.model.operating_point.margins`: the lead of the most probable
label, 0 for a coin toss, 1 for certainty), smallest first, newest first among equal margins, leaving out

* tweets somebody already labelled (a second label of the same tweet teaches little), and
* copies of a story already listed (one label per report: its retweets would only repeat it).

The same rule ranks candidates in ``make bench-review``, which measures how many labels it saves against labels
chosen at random.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np

from tweet_triage.model.operating_point import margins
from tweet_triage.model.review_rule import review_indices
from tweet_triage.store.records import PredictionRecord

DEFAULT_WINDOW: Final = 2_000  # the newest predictions the queue is chosen from


def margin_of(record: PredictionRecord) -> float:
    """The record's margin; computed from its probabilities for records stored before margins were."""
    if record.margin is not None:
        return record.margin
    if not record.probabilities:
        return 1.0
    return float(margins(np.array([list(record.probabilities.values())]))[0])


def review_order(
    records: Iterable[PredictionRecord], *, labelled: set[str] | frozenset[str], limit: int
) -> list[PredictionRecord]:
    """The ``limit`` records a person should label next (see the module docstring)."""
    newest_first = sorted((r for r in records if r.id not in labelled), key=lambda r: r.order_key, reverse=True)
    chosen = review_indices([margin_of(r) for r in newest_first], [r.story_id for r in newest_first], limit)
    return [newest_first[i] for i in chosen]
