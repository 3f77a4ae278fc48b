"""Human feedback in the Cosmos ``feedback`` container (partition key ``/tweet_id``), joined with the prediction.

One item per (tweet, annotator): a person who changes their mind overwrites their own label; two people keep two
items. The latest label wins by the time the person gave it (``labelled_at``), not by arrival: a re-delivered or
late copy of an older label never overwrites a newer one, and a repeat of the stored label changes nothing
(:func:`compare`). Each item carries the feedback event's fields, what the model predicted (label, confidence,
version — read from ``predictions`` when the feedback arrives) and whether the two agree. The same items are the
accuracy monitor's memory after a restart and, as (text, label) pairs, training data for the next retraining.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from tweet_triage.clock import UtcDatetime, format_utc
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import FEEDBACK, container_specs, open_container, query, translate_errors
from tweet_triage.store.records import PredictionRecord, item_body

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy

log = logging.getLogger(__name__)


Comparison = Literal["new", "changed", "repeat", "older"]


def feedback_id(tweet_id: str, annotator: str) -> str:
    """The item id of one person's label for one tweet."""
    digest = hashlib.sha256(f"{tweet_id}\x00{annotator}".encode()).hexdigest()[:24]
    return f"fb-{digest}"


def compare(existing: FeedbackRecord | None, event: FeedbackEvent) -> Comparison:
    """What ``event`` is to the label already stored for its (tweet, annotator).

    ``new`` — nothing stored; ``changed`` — a later label (or comment) that replaces the stored one; ``repeat`` — the
    stored label again (a re-delivery, or the same click twice); ``older`` — a label given before the stored one (a
    late or re-delivered copy). Only ``new`` and ``changed`` are stored and counted.
    """
    if existing is None:
        return "new"
    if event.labelled_at < existing.labelled_at:
        return "older"
    if event.label == existing.label and event.comment == existing.comment:
        return "repeat"
    return "changed"


class FeedbackRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    tweet_id: str
    label: str
    annotator: str
    labelled_at: UtcDatetime
    comment: str | None = None
    model_version: str | None = Field(None, description="The version whose prediction the person saw, if known.")
    predicted_label: str | None = None
    predicted_confidence: float | None = None
    predicted_version: str | None = Field(None, description="The version that made the stored prediction.")
    text: str | None = None
    keyword: str | None = None
    received_at: UtcDatetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return feedback_id(self.tweet_id, self.annotator)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def correct(self) -> bool | None:
        return None if self.predicted_label is None else self.predicted_label == self.label

    @computed_field  # type: ignore[prop-decorator]
    @property
    def order_key(self) -> str:
        return f"{format_utc(self.received_at)}#{self.id}"

    @classmethod
    def join(cls, event: FeedbackEvent, prediction: PredictionRecord | None, received_at: datetime) -> FeedbackRecord:
        return cls(
            tweet_id=event.tweet_id,
            label=event.label,
            annotator=event.annotator,
            labelled_at=event.labelled_at,
            comment=event.comment,
            model_version=event.model_version,
            predicted_label=prediction.label if prediction else None,
            predicted_confidence=prediction.confidence if prediction else None,
            predicted_version=prediction.model_version if prediction else None,
            text=prediction.text if prediction else None,
            keyword=prediction.keyword if prediction else None,
            received_at=received_at,
        )

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> FeedbackRecord:
        return cls.model_validate(item_body(item))


class FeedbackStorage(Protocol):
    """What the monitor and retraining use of the feedback container: :class:`FeedbackStore`, or an in-memory twin in
    tests."""

    def save(self, record: FeedbackRecord) -> None: ...
    def get(self, tweet_id: str, annotator: str) -> FeedbackRecord | None: ...
    def recent(self, *, predicted_version: str, limit: int) -> list[FeedbackRecord]: ...
    def iter_all(self, *, page_size: int = 500) -> Iterator[FeedbackRecord]: ...


class FeedbackStore:
    def __init__(self, container: ContainerProxy, settings: Settings) -> None:
        self._container = container
        self._settings = settings
        self._name = container_specs(settings.cosmos)[FEEDBACK].name

    @classmethod
    @contextmanager
    def open(cls, settings: Settings, *, create: bool = False) -> Iterator[FeedbackStore]:
        with open_container(settings, FEEDBACK, create=create) as container:
            yield cls(container, settings)

    def save(self, record: FeedbackRecord) -> None:
        with translate_errors(self._settings, container=self._name):
            self._container.upsert_item(record.to_item())

    def get(self, tweet_id: str, annotator: str) -> FeedbackRecord | None:
        """The label ``annotator`` gave ``tweet_id``, if stored (a query: the local server answers a point read of a
        missing item with 500)."""
        text = "SELECT * FROM c WHERE c.id = @id AND c.tweet_id = @tweet_id"
        items = query(
            self._container,
            self._settings,
            text,
            {"@id": feedback_id(tweet_id, annotator), "@tweet_id": tweet_id},
            partition_key=tweet_id,
        )
        return FeedbackRecord.from_item(items[0]) if items else None

    def recent(self, *, predicted_version: str, limit: int) -> list[FeedbackRecord]:
        """The newest ``limit`` items judged against ``predicted_version``'s predictions, oldest first."""
        text = (
            "SELECT TOP @n * FROM c WHERE c.predicted_version = @version AND IS_STRING(c.order_key) "
            "ORDER BY c.order_key DESC"
        )
        records = self._records(text, {"@n": limit, "@version": predicted_version})
        return records[::-1]

    def iter_all(self, *, page_size: int = 500) -> Iterator[FeedbackRecord]:
        """Every item, oldest first (keyset pages on ``order_key``)."""
        cursor = ""
        while True:
            text = "SELECT TOP @n * FROM c WHERE c.order_key > @cursor ORDER BY c.order_key ASC"
            page = self._records(text, {"@n": page_size, "@cursor": cursor})
            yield from page
            if len(page) < page_size:
                return
            cursor = page[-1].order_key

    def _records(self, text: str, parameters: Mapping[str, Any]) -> list[FeedbackRecord]:
        items = query(self._container, self._settings, text, parameters)
        records = []
        for item in items:
            try:
                records.append(FeedbackRecord.from_item(item))
            except ValidationError as exc:
                log.warning("skipping feedback item %r: %s", item.get("id"), exc)
        return records


def latest_labels(records: Iterator[FeedbackRecord] | list[FeedbackRecord]) -> dict[str, FeedbackRecord]:
    """Per tweet, the most recent label anybody gave (by ``labelled_at``): the training data feedback adds."""
    latest: dict[str, FeedbackRecord] = {}
    for record in records:
        current = latest.get(record.tweet_id)
        if current is None or record.labelled_at >= current.labelled_at:
            latest[record.tweet_id] = record
    return latest
