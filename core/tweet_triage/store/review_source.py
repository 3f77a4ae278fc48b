"""The review queue over the stores: the newest predictions, less those somebody already labelled.

Labels reach the ``feedback`` container through the accuracy monitor (feedback topic → monitor → store), so a label
given a moment ago may still be on its way; the dashboard also hides what its user labelled in this session.
"""

from __future__ import annotations

from collections.abc import Sequence

from tweet_triage.errors import StoreError, StoreOutage
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import FEEDBACK, open_container, query
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.review_queue import DEFAULT_WINDOW, review_order


class StoreReviewSource:
    def __init__(self, settings: Settings, *, window: int = DEFAULT_WINDOW) -> None:
        self._settings = settings
        self.window = window

    def queue(self, limit: int) -> list[PredictionRecord]:
        """The ``limit`` tweets most worth a label among the newest ``window`` predictions."""
        try:
            with PredictionReader.open(self._settings) as reader:
                recent = reader.tail(self.window)
        except StoreError as exc:
            if _missing(exc):
                return []  # nothing scored yet: the worker creates the container with the first tweet
            raise
        return review_order(recent, labelled=self.labelled([r.id for r in recent]), limit=limit)

    def labelled(self, tweet_ids: Sequence[str]) -> set[str]:
        """Which of these tweets have a label in the feedback store (none while the container does not exist)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(tweet_ids))
        try:
            with open_container(self._settings, FEEDBACK) as container:
                for start in range(0, len(ids), 100):
                    rows = query(
                        container,
                        self._settings,
                        "SELECT VALUE c.tweet_id FROM c WHERE ARRAY_CONTAINS(@ids, c.tweet_id)",
                        {"@ids": ids[start : start + 100]},
                    )
                    found.update(str(row) for row in rows)
        except StoreError as exc:
            if _missing(exc):
                return found  # nobody has labelled anything yet
            raise
        return found


def _missing(exc: StoreError) -> bool:
    return isinstance(exc, StoreOutage) and exc.schema_missing
