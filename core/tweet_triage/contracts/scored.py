"""Scored events (topic ``tweets-scored``): what the drift and accuracy monitors read for every scored tweet.

JSON, key = tweet id. ``probabilities`` maps every label of the model to its probability. Times are UTC in the
fixed-width form of :mod:`tweet_triage.clock`. The model's pooled sentence embedding (the drift
monitor's input) travels in one of two forms — readers take either (:attr:`ScoredEvent.vector`):

* contract **v2** (what the worker writes): ``embedding_f16``, the base64 of the little-endian float16 values —
  1 KB for 384 dimensions instead of about 7 KB of JSON numbers, and no per-number parsing on either side. The
  values are tanh outputs in [-1, 1], where float16 keeps ~3 significant digits (error <= 5e-4): far below what
  moves a drift statistic;
* contract **v1** (older workers, replays of old topics): ``embedding``, a JSON list of numbers.

An event also carries every field of the stored prediction (the tweet's text and the fields dashboards show): the
topic is the record the ``predictions`` container is rebuilt from (``triage results rebuild``), and
:meth:`ScoredEvent.to_prediction` gives back exactly the item the worker stored. Events written before the tweet
fields were added have no ``text`` and cannot rebuild a prediction.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tweet_triage.clock import UtcDatetime
from tweet_triage.errors import InvalidMessage
from tweet_triage.model.places import Place
from tweet_triage.store.records import PredictionRecord

Vector = npt.NDArray[np.float32]


def encode_embedding(values: Sequence[float] | npt.NDArray[np.floating[Any]]) -> str:
    """The v2 wire form of an embedding: base64 of little-endian float16."""
    return base64.b64encode(np.asarray(values, dtype="<f2").tobytes()).decode("ascii")


def decode_embedding(text: str) -> Vector:
    """The float32 values of a v2 embedding; ``ValueError`` when it is not base64 of float16 values."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"embedding_f16 is not base64: {exc}") from None
    if len(raw) % 2:
        raise ValueError("embedding_f16 does not hold whole float16 values")
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)


class ScoredEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]
    model_name: str | None = None
    model_version: str = Field(min_length=1)
    embedding: list[float] = Field(default_factory=list)  # contract v1
    embedding_f16: str | None = None  # contract v2 (base64 of float16)
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
    threshold: float | None = None  # the decision of the prediction record (see PredictionRecord)
    operating_point: str | None = None
    language: str | None = None
    out_of_scope: bool = False
    margin: float | None = None
    story_id: str | None = None
    place: Place | None = None

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
        if self.embedding_f16 is not None and not np.isfinite(decode_embedding(self.embedding_f16)).all():
            raise ValueError("embedding holds NaN or infinity")
        return self

    @classmethod
    def from_prediction(
        cls, record: PredictionRecord, embedding: Sequence[float] | npt.NDArray[np.floating[Any]]
    ) -> ScoredEvent:
        """The event of a stored prediction: all of its fields, plus the embedding (contract v2)."""
        fields = record.model_dump(exclude={"order_key"})
        return cls(**fields, embedding_f16=encode_embedding(embedding))

    def to_prediction(self) -> PredictionRecord | None:
        """The prediction record this event was made from, or None for an event without the tweet's text."""
        if self.text is None or self.model_name is None:
            return None
        return PredictionRecord.model_validate(self.model_dump(exclude={"embedding", "embedding_f16"}))

    @property
    def vector(self) -> Vector | None:
        """The embedding as float32, from whichever form the event carries (None: it carries none)."""
        if self.embedding_f16 is not None:
            return decode_embedding(self.embedding_f16)
        if self.embedding:
            return np.asarray(self.embedding, dtype=np.float32)
        return None

    @property
    def key(self) -> bytes:
        return self.id.encode("utf-8")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str | None) -> ScoredEvent:
        try:
            return cls.model_validate_json(data or b"")
        except ValidationError as exc:
            raise InvalidMessage(f"not a scored event: {exc}") from exc
