"""The read side of the ``predictions`` container (synchronous): counts, newest items, one tweet, full export.

Every query works on both the local ``@vercel/cosmosdb-server`` and real Cosmos DB: no GROUP BY, DISTINCT or
OFFSET/LIMIT. Per-label counts are one ``SELECT VALUE COUNT(1)`` per label; paging is keyset paging on the stored
``order_key`` (``<scored_at>#<id>``, unique and time-ordered) with ``TOP``, never continuation tokens. Single-tweet
lookups are a query on ``c.id`` with the partition key, because the local server answers a point read of a missing
item with HTTP 500 instead of 404 (and does not filter on ``partition_key`` alone, hence the WHERE clause).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from pydantic import ValidationError

from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import PREDICTIONS, open_container, query
from tweet_triage.store.records import PredictionRecord, item_body

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE: Final = 500


class PredictionQueries(Protocol):
    """The read side of the predictions store: :class:`PredictionReader`, or an in-memory twin in tests."""

    def count(self, label: str | None = None) -> int: ...
    def labels(self) -> list[str]: ...
    def count_by_label(self, labels: Sequence[str] | None = None) -> dict[str, int]: ...
    def find(self, tweet_ids: Sequence[str]) -> dict[str, PredictionRecord]: ...
    def get(self, tweet_id: str) -> PredictionRecord | None: ...
    def tail(self, n: int) -> list[PredictionRecord]: ...
    def iter_items(
        self, *, newest_first: bool = False, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]: ...
    def export(self, path: Path, *, page_size: int = DEFAULT_PAGE_SIZE) -> int: ...


class LabelCounts(ABC):
    """What every prediction store derives from ``count`` and ``tail`` the same way."""

    @abstractmethod
    def count(self, label: str | None = None) -> int: ...

    @abstractmethod
    def tail(self, n: int) -> list[PredictionRecord]: ...

    def labels(self) -> list[str]:
        """The label names of the newest prediction's model (no DISTINCT: see the module docstring)."""
        newest = self.tail(1)
        return sorted(newest[0].probabilities) if newest else []

    def count_by_label(self, labels: Sequence[str] | None = None) -> dict[str, int]:
        """Counts for each label (default: the newest model's labels), one count per label."""
        return {label: self.count(label) for label in (labels if labels is not None else self.labels())}


class PredictionReader(LabelCounts):
    """Queries over one ``predictions`` container."""

    def __init__(self, container: ContainerProxy, settings: Settings) -> None:
        self._container = container
        self._settings = settings

    @classmethod
    @contextmanager
    def open(cls, settings: Settings) -> Iterator[PredictionReader]:
        """Connect with the settings' endpoint and key; the container must exist (the worker creates it)."""
        with open_container(settings, PREDICTIONS) as container:
            yield cls(container, settings)

    # ---- counts -----------------------------------------------------------------------------------------------

    def count(self, label: str | None = None) -> int:
        """How many predictions are stored (with ``label``, if given)."""
        if label is None:
            rows = self._query("SELECT VALUE COUNT(1) FROM c")
        else:
            rows = self._query("SELECT VALUE COUNT(1) FROM c WHERE c.label = @label", {"@label": label})
        return sum(int(row) for row in rows)  # a cross-partition aggregate may come back as partial counts

    # ---- items ------------------------------------------------------------------------------------------------

    def find(self, tweet_ids: Sequence[str]) -> dict[str, PredictionRecord]:
        """The stored predictions of these tweets, by id (missing ones absent); one query per 100 ids."""
        found: dict[str, PredictionRecord] = {}
        ids = list(dict.fromkeys(tweet_ids))
        for start in range(0, len(ids), 100):
            rows = self._query("SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)", {"@ids": ids[start : start + 100]})
            for row in rows:
                record = _to_record(row)
                if record is not None:
                    found[record.id] = record
        return found

    def get(self, tweet_id: str) -> PredictionRecord | None:
        rows = self._query("SELECT * FROM c WHERE c.id = @id", {"@id": tweet_id}, partition_key=tweet_id)
        return PredictionRecord.from_item(rows[0]) if rows else None

    def tail(self, n: int) -> list[PredictionRecord]:
        """The ``n`` most recently scored predictions, newest first."""
        if n < 1:
            return []
        records: list[PredictionRecord] = []
        for item in self.iter_items(newest_first=True, page_size=min(n, DEFAULT_PAGE_SIZE)):
            record = _to_record(item)
            if record is not None:
                records.append(record)
            if len(records) >= n:
                break
        return records

    def iter_items(self, *, newest_first: bool = False, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every stored item (without Cosmos system properties) in ``order_key`` order, fetched by keyset pages."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        cursor: str | None = None
        while True:
            where = f"WHERE c.order_key {compare} @cursor " if cursor is not None else "WHERE IS_STRING(c.order_key) "
            text = f"SELECT TOP @n * FROM c {where}ORDER BY c.order_key {direction}"  # noqa: S608 - fixed fragments
            page = self._query(text, {"@n": page_size, **({"@cursor": cursor} if cursor is not None else {})})
            for item in page:
                yield item_body(item)
            if len(page) < page_size:
                return
            cursor = str(page[-1]["order_key"])

    def export(self, path: Path, *, page_size: int = DEFAULT_PAGE_SIZE) -> int:
        """Write all predictions as JSON lines, oldest first (the file appears only when complete); return the count."""
        partial = path.with_name(path.name + ".part")
        count = 0
        try:
            with partial.open("w", encoding="utf-8") as out:
                for item in self.iter_items(page_size=page_size):
                    out.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
                    count += 1
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return count

    # ---- plumbing ---------------------------------------------------------------------------------------------

    def _query(
        self, query_text: str, parameters: Mapping[str, Any] | None = None, *, partition_key: str | None = None
    ) -> list[Any]:
        return query(self._container, self._settings, query_text, parameters, partition_key=partition_key)


def _to_record(item: Mapping[str, Any]) -> PredictionRecord | None:
    try:
        return PredictionRecord.from_item(item)
    except ValidationError as exc:
        log.warning("skipping stored item %r that is not a prediction record: %s", item.get("id"), exc)
        return None
