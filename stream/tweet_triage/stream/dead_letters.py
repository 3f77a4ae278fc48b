"""Dead letters: what the worker publishes to ``tweets-dlq`` for each event it refuses.

One JSON object per refused message, keyed like the source message. It carries the raw value (base64, so any bytes
survive), the machine reason and the human message from :class:`~tweet_triage.stream.events.Rejection`, and where the
message came from (topic, partition, offset), so it can be inspected and replayed. Raw values longer than
:data:`MAX_RAW_BYTES` are cut (``raw_truncated`` = true, ``raw_size`` = the original size): a dead letter must itself
fit in one Kafka / Event Hubs message (about 1 MB).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tweet_triage.stream.events import Rejection, RejectReason
from tweet_triage.stream.exceptions import InvalidMessage
from tweet_triage.stream.timestamps import UtcDatetime, utc_now

MAX_RAW_BYTES: Final = 256 * 1024


class DeadLetter(BaseModel):
    """One refused message, as published to ``tweets-dlq``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: RejectReason
    message: str
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key_base64: str | None = None
    raw_base64: str
    raw_size: int = Field(ge=0)
    raw_truncated: bool = False
    source_timestamp: UtcDatetime | None = None
    dead_lettered_at: UtcDatetime

    @classmethod
    def build(
        cls,
        *,
        raw: bytes | None,
        rejection: Rejection,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None = None,
        source_timestamp: datetime | None = None,
        now: datetime | None = None,
    ) -> DeadLetter:
        value = raw or b""
        kept = value[:MAX_RAW_BYTES]
        return cls(
            reason=rejection.reason,
            message=rejection.message,
            topic=topic,
            partition=partition,
            offset=offset,
            key_base64=None if key is None else base64.b64encode(key).decode("ascii"),
            raw_base64=base64.b64encode(kept).decode("ascii"),
            raw_size=len(value),
            raw_truncated=len(kept) < len(value),
            source_timestamp=source_timestamp,
            dead_lettered_at=now or utc_now(),
        )

    @property
    def raw(self) -> bytes:
        """The original value (its first :data:`MAX_RAW_BYTES` bytes when ``raw_truncated``)."""
        return base64.b64decode(self.raw_base64)

    @property
    def key(self) -> bytes | None:
        return None if self.key_base64 is None else base64.b64decode(self.key_base64)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> DeadLetter:
        try:
            letter = cls.model_validate_json(data)
            base64.b64decode(letter.raw_base64, validate=True)
        except (ValidationError, binascii.Error) as exc:
            raise InvalidMessage(f"not a dead letter: {exc}") from exc
        return letter

    def summary(self) -> dict[str, Any]:
        """A short, log-friendly view (no payload)."""
        return self.model_dump(mode="json", exclude={"raw_base64", "key_base64"})
