"""The prediction record: one Cosmos DB item per tweet in the ``predictions`` container.

``id`` is the tweet id and also the partition key (``/id``), so a retried or duplicated write upserts the very same
item. ``order_key`` (``<scored_at>#<id>``, fixed-width UTC time first) gives every item a unique place in time order;
the read side pages on it (``#`` cannot occur in a Cosmos DB id, so the key is unambiguous).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from tweet_triage.clock import UtcDatetime, format_utc
from tweet_triage.contracts.tweets import TweetEvent, TweetId
from tweet_triage.model.language import Language
from tweet_triage.model.operating_point import Decision
from tweet_triage.model.places import Place

ORDER_KEY_SEPARATOR = "#"
SYSTEM_PROPERTIES = frozenset({"_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"})


def item_body(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item without the properties Cosmos DB adds to every item."""
    return {k: v for k, v in item.items() if k not in SYSTEM_PROPERTIES}


def make_order_key(scored_at: datetime, tweet_id: str) -> str:
    return f"{format_utc(scored_at)}{ORDER_KEY_SEPARATOR}{tweet_id}"


class PredictionRecord(BaseModel):
    """What the dashboards, the results CLI and auditors read about one scored tweet."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: TweetId = Field(description="The tweet id; also the partition key.")
    label: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]
    model_name: str = Field(min_length=1)
    model_version: str = Field(min_length=1)
    scored_at: UtcDatetime
    text: str
    created_at: UtcDatetime | None = None
    published_at: UtcDatetime | None = None
    lang: str | None = None
    user: str | None = None
    location: str | None = None
    keyword: str | None = None
    source: str | None = None
    event: str | None = None
    threshold: float | None = Field(None, description="The operating point's threshold (None: most probable label).")
    operating_point: str | None = Field(None, description="The policy that chose the threshold (f2, f1, ...).")
    language: str | None = Field(None, description="Identified language (ISO 639-1); None when too short to tell.")
    out_of_scope: bool = Field(False, description="Surely in a language the model was not trained on.")
    margin: float | None = Field(
        None, ge=0.0, le=1.0, description="Lead of the most probable label: 0 a coin toss, 1 certain."
    )
    story_id: str | None = Field(None, description="Retweets and near-copies of one report share it.")
    place: Place | None = Field(None, description="Where the tweet is about, from its text or the user's location.")

    @field_validator("probabilities")
    @classmethod
    def _probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        if not all(0.0 <= p <= 1.0 for p in value.values()):  # also refuses NaN, which no JSON store accepts
            raise ValueError("probabilities must lie in [0, 1]")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def order_key(self) -> str:
        """``<scored_at>#<id>``: a unique, time-ordered key for keyset paging (stored with the item)."""
        return make_order_key(self.scored_at, self.id)

    @classmethod
    def from_scoring(
        cls,
        tweet: TweetEvent,
        *,
        label: str,
        confidence: float,
        probabilities: Mapping[str, float],
        model_name: str,
        model_version: str,
        scored_at: datetime,
        decision: Decision | None = None,
        language: Language | None = None,
        story_id: str | None = None,
        place: Place | None = None,
    ) -> PredictionRecord:
        return cls(
            id=tweet.id,
            label=label,
            confidence=confidence,
            probabilities=dict(probabilities),
            model_name=model_name,
            model_version=model_version,
            scored_at=scored_at,
            text=tweet.text,
            created_at=tweet.created_at,
            published_at=tweet.published_at,
            lang=tweet.lang,
            user=tweet.user,
            location=tweet.location,
            keyword=tweet.keyword,
            source=tweet.source,
            event=tweet.event,
            threshold=decision.threshold if decision else None,
            operating_point=decision.operating_point if decision else None,
            language=language.code if language else None,
            out_of_scope=language.out_of_scope() if language else False,
            margin=decision.margin if decision else None,
            story_id=story_id,
            place=place,
        )

    def to_item(self) -> dict[str, Any]:
        """The Cosmos DB item body (JSON types only)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PredictionRecord:
        """Read a stored item back, ignoring Cosmos DB's system properties."""
        return cls.model_validate(item_body(item))
