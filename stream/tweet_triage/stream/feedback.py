"""Feedback events (topic ``tweets-feedback``): a person's label for a tweet, sent from the relief dashboard.

JSON, key = tweet id. The accuracy monitor joins them with the stored predictions. ``model_version`` is the version
whose prediction the person saw, when the dashboard knows it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tweet_triage.stream.exceptions import InvalidMessage
from tweet_triage.stream.timestamps import UtcDatetime

MAX_COMMENT_CHARS = 2_000


class FeedbackEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    tweet_id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    annotator: str = Field(min_length=1, description="Who gave the label (a name or an account id).")
    labelled_at: UtcDatetime
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)
    model_version: str | None = None

    @property
    def key(self) -> bytes:
        return self.tweet_id.encode("utf-8")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> FeedbackEvent:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidMessage(f"not a feedback event: {exc}") from exc
