"""Scored events (topic ``tweets-scored``): what the drift and accuracy monitors read for every scored tweet.

JSON, key = tweet id. ``embedding`` is the model's pooled sentence embedding (the drift monitor's input);
``probabilities`` maps every label of the model to its probability. Times are UTC in the fixed-width form of
:mod:`tweet_triage.stream.timestamps`.

An event also carries every field of the stored prediction (the tweet's text and the fields dashboards show): the
topic is the record the ``predictions`` container is rebuilt from (``triage results rebuild``), and
:meth:`ScoredEvent.to_prediction` gives back exactly the item the worker stored. Events written before the tweet
fields were added have no ``text`` and cannot rebuild a prediction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tweet_triage.stream.exceptions import InvalidMessage
from tweet_triage.stream.timestamps import UtcDatetime

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tweet_triage.stream.store.records import PredictionRecord


class ScoredEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]
    model_name: str | None = None
    model_version: str = Field(min_length=1)
    embedding: list[float] = Field(default_factory=list)
    created_at: UtcDatetime | None = None
    scored_at: UtcDatetime
    published_at: UtcDatetime | None = None
    text: str | None = None  # the tweet fields of the prediction record (see the module docstring)
    lang: str | None = None
    user: str | None = None
    location: str | None = None
    keyword: str | None = None
    source: str | None = None
    event: str | None = None

    @field_validator("embedding")
    @classmethod
    def _finite(cls, value: list[float]) -> list[float]:
        if not all(math.isfinite(x) for x in value):
            raise ValueError("embedding holds NaN or infinity")
        return value

    @field_validator("probabilities")
    @classmethod
    def _probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        if not all(0.0 <= p <= 1.0 for p in value.values()):  # also refuses NaN
            raise ValueError("probabilities must lie in [0, 1]")
        return value

    @model_validator(mode="after")
    def _label_is_scored(self) -> Self:
        if self.probabilities and self.label not in self.probabilities:
            raise ValueError(f"label {self.label!r} is not among the probabilities {sorted(self.probabilities)}")
        return self

    @classmethod
    def from_prediction(cls, record: PredictionRecord, embedding: Sequence[float]) -> ScoredEvent:
        """The event of a stored prediction: all of its fields, plus the embedding."""
        fields = record.model_dump(exclude={"order_key"})
        return cls(**fields, embedding=[float(x) for x in embedding])

    def to_prediction(self) -> PredictionRecord | None:
        """The prediction record this event was made from, or None for an event without the tweet's text."""
        from tweet_triage.stream.store.records import PredictionRecord

        if self.text is None or self.model_name is None:
            return None
        return PredictionRecord.model_validate(self.model_dump(exclude={"embedding"}))

    @property
    def key(self) -> bytes:
        return self.id.encode("utf-8")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> ScoredEvent:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidMessage(f"not a scored event: {exc}") from exc
