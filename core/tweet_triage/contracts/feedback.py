"""Feedback events (topic ``tweets-feedback``): a person's label for a tweet, sent from the relief dashboard.

JSON, key = tweet id. The accuracy monitor joins them with the stored predictions. ``model_version`` is the version
whose prediction the person saw, when the dashboard knows it.

``tweet_id`` follows the tweet contract's id rules (:data:`~tweet_triage.contracts.tweets.TweetId`: what Cosmos DB can
hold as an id and partition key), and every text field is bounded, so an event either fits the ``feedback``
container or is refused here, before it can block its partition.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tweet_triage.clock import UtcDatetime
from tweet_triage.contracts.tweets import TweetId
from tweet_triage.errors import InvalidMessage

MAX_COMMENT_CHARS: Final = 2_000
MAX_NAME_CHARS: Final = 200  # labels, annotators, model versions


class FeedbackEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    tweet_id: TweetId
    label: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    annotator: str = Field(
        min_length=1, max_length=MAX_NAME_CHARS, description="Who gave the label (a name or an account id)."
    )
    labelled_at: UtcDatetime
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)
    model_version: str | None = Field(None, max_length=MAX_NAME_CHARS)

    @field_validator("label", "annotator")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @property
    def key(self) -> bytes:
        return self.tweet_id.encode("utf-8")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str | None) -> FeedbackEvent:
        try:
            return cls.model_validate_json(data or b"")
        except ValidationError as exc:
            raise InvalidMessage(f"not a feedback event: {_first_error(exc)}") from exc


def _first_error(error: ValidationError) -> str:
    """The first problem only, bounded: the message goes into a dead letter, the raw value is there already."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "value"
    more = error.error_count() - 1
    return f"{where}: {first.get('msg', 'invalid')}"[:500] + (f" (and {more} more)" if more else "")
