"""Dead letters: what the stream publishes to ``tweets-dlq`` for each message it refuses.

One JSON object per refused message. It carries the raw value and key (base64, so any bytes survive), the message's
headers, the machine reason and the human message from :class:`~tweet_triage.contracts.tweets.Rejection`, and where the
message came from (topic, partition, offset, broker timestamp), so it can be inspected (``triage dlq show``) and
replayed (``triage dlq replay``).

A dead letter is bounded so that it always fits in one Kafka / Event Hubs message (1 MiB; a letter is at most about
450 KiB): a value longer than :data:`MAX_RAW_BYTES`, a key longer than :data:`MAX_KEY_BYTES`, more than
:data:`MAX_HEADERS` headers or header values longer than :data:`MAX_HEADER_VALUE_BYTES` are cut, flagged
(``raw_truncated``, ``key_truncated``, ``headers_truncated``) and the sha256 and size of the original value and key
are kept. The letter's own message key is the tweet id when it is known, else the (cut) original key — never the
original key in full, which may be most of a megabyte.

A message that was itself a replay (header :data:`REPLAY_OF_HEADER`) is dead-lettered with ``replay_of``, the id of the
letter that was replayed, so the replay tool never replays a superseded letter again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.clock import UtcDatetime, utc_now
from tweet_triage.contracts.tweets import Rejection, RejectReason
from tweet_triage.errors import InvalidMessage

MAX_RAW_BYTES: Final = 256 * 1024
MAX_KEY_BYTES: Final = 1024
MAX_HEADERS: Final = 32
MAX_HEADER_NAME_CHARS: Final = 256
MAX_HEADER_VALUE_BYTES: Final = 1024
MAX_MESSAGE_CHARS: Final = 2_000

REPLAY_OF_HEADER: Final = "triage-replay-of"
REPLAY_RUN_HEADER: Final = "triage-replay-run"
LETTER_ID: Final = re.compile(r"\A(\d{1,9}):(\d{1,19})\Z")  # PARTITION:OFFSET of a letter in the dead-letter topic
_RUN_ID: Final = re.compile(r"\A[0-9a-f]{8,64}\Z")


class LetterHeader(BaseModel):
    """One header of the refused message (value in base64, cut past :data:`MAX_HEADER_VALUE_BYTES`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value_base64: str
    value_size: int = Field(ge=0)
    truncated: bool = False

    @property
    def value(self) -> bytes:
        return base64.b64decode(self.value_base64)


class DeadLetter(BaseModel):
    """One refused message, as published to ``tweets-dlq``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: RejectReason
    message: str
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    tweet_id: str | None = Field(None, description="Set when the value was a valid tweet refused by a later step.")
    key_base64: str | None = None
    key_size: int = Field(0, ge=0)
    key_truncated: bool = False
    key_sha256: str | None = None
    raw_base64: str
    raw_size: int = Field(ge=0)
    raw_truncated: bool = False
    raw_sha256: str | None = None
    headers: list[LetterHeader] = Field(default_factory=list)
    headers_truncated: bool = False
    source_timestamp: UtcDatetime | None = None
    source_timestamp_ms: int | None = Field(None, description="The broker timestamp as sent, even out of range.")
    replay_of: str | None = Field(None, description="The letter (PARTITION:OFFSET) this message was a replay of.")
    replay_run: str | None = None
    dead_lettered_at: UtcDatetime

    @classmethod
    def for_message(
        cls,
        message: InboundMessage,
        rejection: Rejection,
        *,
        tweet_id: str | None = None,
        now: datetime | None = None,
    ) -> DeadLetter:
        """The dead letter for ``message``, bounded whatever it carries."""
        replay_of = _decoded(message.header(REPLAY_OF_HEADER))
        replay_run = _decoded(message.header(REPLAY_RUN_HEADER))
        headers, headers_truncated = _kept_headers(message.headers)
        return cls.build(
            raw=message.value,
            rejection=rejection,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            tweet_id=tweet_id,
            headers=headers,
            headers_truncated=headers_truncated,
            source_timestamp=message.time,
            source_timestamp_ms=message.timestamp_ms,
            replay_of=replay_of if replay_of and LETTER_ID.match(replay_of) else None,
            replay_run=replay_run if replay_run and _RUN_ID.match(replay_run) else None,
            now=now,
        )

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
        tweet_id: str | None = None,
        headers: Sequence[LetterHeader] = (),
        headers_truncated: bool = False,
        source_timestamp: datetime | None = None,
        source_timestamp_ms: int | None = None,
        replay_of: str | None = None,
        replay_run: str | None = None,
        now: datetime | None = None,
    ) -> DeadLetter:
        value = raw or b""
        kept = value[:MAX_RAW_BYTES]
        kept_key = None if key is None else key[:MAX_KEY_BYTES]
        return cls(
            reason=rejection.reason,
            message=_bounded(rejection.message, MAX_MESSAGE_CHARS),
            topic=topic,
            partition=partition,
            offset=offset,
            tweet_id=tweet_id,
            key_base64=None if kept_key is None else base64.b64encode(kept_key).decode("ascii"),
            key_size=0 if key is None else len(key),
            key_truncated=key is not None and len(key) > MAX_KEY_BYTES,
            key_sha256=None if key is None else hashlib.sha256(key).hexdigest(),
            raw_base64=base64.b64encode(kept).decode("ascii"),
            raw_size=len(value),
            raw_truncated=len(kept) < len(value),
            raw_sha256=hashlib.sha256(value).hexdigest(),
            headers=list(headers),
            headers_truncated=headers_truncated,
            source_timestamp=source_timestamp,
            source_timestamp_ms=source_timestamp_ms,
            replay_of=replay_of,
            replay_run=replay_run,
            dead_lettered_at=now or utc_now(),
        )

    @property
    def raw(self) -> bytes:
        """The original value (its first :data:`MAX_RAW_BYTES` bytes when ``raw_truncated``)."""
        return base64.b64decode(self.raw_base64)

    @property
    def key(self) -> bytes | None:
        """The original key (its first :data:`MAX_KEY_BYTES` bytes when ``key_truncated``)."""
        return None if self.key_base64 is None else base64.b64decode(self.key_base64)

    @property
    def kafka_key(self) -> bytes | None:
        """The key this letter is published with: the tweet id if known, else the (cut) original key."""
        return self.tweet_id.encode("utf-8") if self.tweet_id is not None else self.key

    @property
    def complete(self) -> bool:
        """True if nothing of the original message was cut (so it can be replayed as it was)."""
        return not (self.raw_truncated or self.key_truncated)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    def to_message(self) -> tuple[bytes | None, bytes]:
        """(key, value) for the dead-letter topic."""
        return self.kafka_key, self.to_json()

    @classmethod
    def from_json(cls, data: bytes | str | None) -> DeadLetter:
        try:
            letter = cls.model_validate_json(data or b"")
            base64.b64decode(letter.raw_base64, validate=True)
            if letter.key_base64 is not None:
                base64.b64decode(letter.key_base64, validate=True)
        except (ValidationError, binascii.Error) as exc:
            raise InvalidMessage(f"not a dead letter: {str(exc)[:500]}") from exc
        return letter

    def stripped(self, why: str) -> DeadLetter:
        """This letter without the original bytes (value, key, headers): the fallback when even the bounded letter
        is refused by the broker. Reason, position, sizes and hashes stay."""
        return self.model_copy(
            update={
                "message": _bounded(f"{self.message} [{why}]", MAX_MESSAGE_CHARS),
                "key_base64": None,
                "key_truncated": self.key_size > 0,
                "raw_base64": "",
                "raw_truncated": self.raw_size > 0,
                "headers": [],
                "headers_truncated": bool(self.headers) or self.headers_truncated,
            }
        )

    def summary(self) -> dict[str, Any]:
        """A short, log-friendly view (no payload)."""
        return self.model_dump(mode="json", exclude={"raw_base64", "key_base64", "headers"})


def _kept_headers(headers: Sequence[tuple[str, bytes]]) -> tuple[list[LetterHeader], bool]:
    kept: list[LetterHeader] = []
    truncated = len(headers) > MAX_HEADERS
    for name, value in headers[:MAX_HEADERS]:
        cut = value[:MAX_HEADER_VALUE_BYTES]
        short_name = name[:MAX_HEADER_NAME_CHARS]
        header_cut = len(cut) < len(value) or len(short_name) < len(name)
        truncated = truncated or header_cut
        kept.append(
            LetterHeader(
                name=short_name,
                value_base64=base64.b64encode(cut).decode("ascii"),
                value_size=len(value),
                truncated=header_cut,
            )
        )
    return kept, truncated


def _decoded(value: bytes | None) -> str | None:
    if value is None or len(value) > 64:
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
