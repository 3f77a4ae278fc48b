"""The review queue's rule on plain lists, shared by the queue over stored tweets and by its simulation.

Uncertainty sampling: a label teaches a model most where it is least sure, so the candidates closest to a coin toss
(smallest :func:`tweet_triage.model.operating_point.margins`) go first, one per story (a retweet's
label would repeat its original's). ``tweet_triage.store.review_queue`` applies it to stored predictions;
``tweet_triage.training.active_learning`` measures what it saves over labels chosen at random.
"""

from __future__ import annotations

from collections.abc import Sequence


def review_indices(margins: Sequence[float], stories: Sequence[str | None], limit: int) -> list[int]:
    """The rule itself, on plain lists: indices of the ``limit`` candidates to label next, smallest margin first.

    ``margins`` and ``stories`` describe the unlabelled candidates, newest first (ties keep that order); a story
    already chosen is skipped (None: a tweet of its own).
    """
    order = sorted(range(len(margins)), key=lambda i: margins[i])  # stable: newest first among equal margins
    chosen: list[int] = []
    seen: set[str] = set()
    for index in order:
        story = stories[index]
        if story is not None:
            if story in seen:
                continue
            seen.add(story)
        chosen.append(index)
        if len(chosen) >= limit:
            break
    return chosen
