"""The tweet event contract (topic ``tweets``) and its validation.

Wire form: one UTF-8 JSON object per message, key = the tweet id (UTF-8). Fields:

* ``id`` — string, required. It becomes the Cosmos DB item id, so it must be storable there: 1 to
  :data:`MAX_ID_CHARS` characters, no ``/ \\ ? #``, no control, format (zero-width, bidi) or line-separator
  characters, no leading or trailing whitespace, at least one visible character.
  A JSON number is refused on purpose: tweet ids are 64-bit and lose precision in many JSON parsers (that is why
  Twitter's API has ``id_str``).
* ``text`` — string, required, with at least one visible character (whitespace, zero-width and other invisible
  characters alone are blank), at most :data:`MAX_TEXT_CHARS` characters. A tweet is at most 280 characters; 1,000
  leaves room for expanded entities and long posts while the model reads only its first tokens.
* ``created_at`` — optional time the tweet was posted: ISO-8601 (``Z`` or an offset; a naive time is taken as UTC;
  Twitter API v2) or Twitter API v1.1's ``Wed Oct 10 20:19:24 +0000 2018``.
* ``lang``, ``user``, ``location``, ``keyword``, ``source``, ``event`` — optional strings (``keyword`` at most
  :data:`MAX_KEYWORD_CHARS` characters, the others at most :data:`MAX_FIELD_CHARS`).
* ``published_at`` — optional ISO-8601 time the producer sent the event (for publish→stored latency).
* **An optional field never costs the tweet**: a value that cannot be used (a time that does not parse, a string over
  its limit, a value of another type) is set aside — the field stays empty, the original value is kept in
  :attr:`TweetEvent.extra` under its own name and written back by :meth:`TweetEvent.to_json`, and
  :attr:`TweetEvent.set_aside` names it (the worker counts them by field).
* Any other field is kept in ``extra`` and written back by :meth:`TweetEvent.to_json`.

The message key should be the tweet id (UTF-8): a key that is present and differs is refused (``key_mismatch``, see
:func:`check_key`), since two texts under one id would otherwise overwrite each other in any order.

The payload must be unambiguous JSON: no repeated field names (parsers disagree on which one wins), no number
outside the 64-bit float range (``1e999``), no ``NaN``/``Infinity``, nesting at most :data:`MAX_DEPTH` levels.
A payload larger than :data:`MAX_PAYLOAD_BYTES` is refused before it is decoded. :func:`parse_event` never raises:
it returns a :class:`TweetEvent` or a :class:`Rejection` with a machine reason code and a human message, which the
worker sends to ``tweets-dlq``.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from tweet_triage.clock import UtcDatetime, parse_iso8601, parse_tweet_time

MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_TEXT_CHARS: Final = 1_000
MAX_ID_CHARS: Final = 255
MAX_KEYWORD_CHARS: Final = 100
MAX_FIELD_CHARS: Final = 500
MAX_DEPTH: Final = 32

OPTIONAL_TEXT_FIELDS: Final = ("lang", "user", "location", "keyword", "source", "event")
_KNOWN_FIELDS: Final = frozenset({"id", "text", "created_at", "published_at", *OPTIONAL_TEXT_FIELDS})
_ID_FORBIDDEN: Final = frozenset("/\\?#")
_ID_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Categories that draw nothing on their own (unassigned and private-use code points are not here: a newer emoji than
# this Python's Unicode database is unassigned to it, yet visible), and letters that render as blanks.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
_BLANK_LOOKING: Final = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


class RejectReason(StrEnum):
    """Why an event was refused; stable codes for the dead-letter topic, metrics and alerts."""

    EMPTY = "empty"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    INVALID_UNICODE = "invalid_unicode"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    ID_WRONG_TYPE = "id_wrong_type"
    INVALID_ID = "invalid_id"
    MISSING_TEXT = "missing_text"
    TEXT_WRONG_TYPE = "text_wrong_type"
    BLANK_TEXT = "blank_text"
    TEXT_TOO_LONG = "text_too_long"
    KEY_MISMATCH = "key_mismatch"
    # Former refusals, kept so dead letters written before still read: a bad optional field is now set aside.
    BAD_CREATED_AT = "bad_created_at"
    FIELD_TOO_LONG = "field_too_long"
    DUPLICATE_FIELD = "duplicate_field"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    TOO_DEEPLY_NESTED = "too_deeply_nested"
    INVALID_EVENT = "invalid_event"
    # Refusals after the contract check: the tweet was valid, a later step refused it for reasons of its own.
    SCORING_FAILED = "scoring_failed"  # the model failed on this tweet alone while it scores others
    STORE_REJECTED = "store_rejected"  # the results store refused its item for good (invalid document, too large)
    PUBLISH_REFUSED = "publish_refused"  # the broker refused its scored event for good (too large)


@dataclass(frozen=True)
class Rejection:
    """A refused event: ``reason`` for machines, ``message`` for people."""

    reason: RejectReason
    message: str


def has_visible_character(value: str) -> bool:
    """True if ``value`` draws something: not only whitespace, zero-width, format or combining characters."""
    return any(ch not in _BLANK_LOOKING and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES for ch in value)


def check_id(value: str) -> str | None:
    """What is wrong with ``value`` as a tweet id, or None if it can be used (also as a Cosmos DB item id).

    The feedback contract and the API check ids with this function too, so whatever they accept can be stored.
    """
    if not value.strip():
        return "id is blank"
    if len(value) > MAX_ID_CHARS:
        return f"id has {len(value)} characters, more than {MAX_ID_CHARS}"
    if value != value.strip():
        return "id has leading or trailing whitespace"
    bad = sorted({ch for ch in value if ch in _ID_FORBIDDEN or unicodedata.category(ch) in _ID_FORBIDDEN_CATEGORIES})
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X}" if not ch.isprintable() else repr(ch) for ch in bad[:10])
        return f"id contains characters Cosmos DB ids cannot hold or that do not show: {shown}"
    if not has_visible_character(value):
        return "id has no visible character"
    return None


def _storable_id(value: str) -> str:
    problem = check_id(value)
    if problem:
        raise ValueError(problem)
    return value


TweetId = Annotated[str, AfterValidator(_storable_id)]
"""A tweet id as a pydantic field type: whatever passes can be a Cosmos DB item id and partition key."""


def check_text(value: str) -> tuple[RejectReason, str] | None:
    """What is wrong with ``value`` as tweet text, or None."""
    if not value.strip():
        return RejectReason.BLANK_TEXT, "text is blank"
    if len(value) > MAX_TEXT_CHARS:
        return RejectReason.TEXT_TOO_LONG, f"text has {len(value)} characters, more than {MAX_TEXT_CHARS}"
    if not has_visible_character(value):
        return RejectReason.BLANK_TEXT, "text has no visible character (only whitespace, zero-width or format marks)"
    return None


def field_limit(name: str) -> int:
    """The most characters an optional text field may hold."""
    return MAX_KEYWORD_CHARS if name == "keyword" else MAX_FIELD_CHARS


class TweetEvent(BaseModel):
    """One valid tweet from the ``tweets`` topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: TweetId
    text: str
    created_at: UtcDatetime | None = None
    lang: str | None = None
    user: str | None = None
    location: str | None = None
    keyword: str | None = None
    source: str | None = None
    event: str | None = None
    published_at: UtcDatetime | None = None
    extra: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        problem = check_text(value)
        if problem:
            raise ValueError(problem[1])
        return value

    @model_validator(mode="after")
    def _optional_fields_are_bounded(self) -> TweetEvent:
        for name in OPTIONAL_TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None and len(value) > field_limit(name):
                raise ValueError(f"{name} has {len(value)} characters, more than {field_limit(name)}")
        return self

    @model_validator(mode="after")
    def _extra_does_not_shadow(self) -> TweetEvent:
        for name in self.extra:
            if name in ("id", "text") or (name in _KNOWN_FIELDS and getattr(self, name) is not None):
                raise ValueError(f"extra field {name!r} would overwrite a contract field")
        return self

    @property
    def key(self) -> bytes:
        """The message key: the tweet id."""
        return self.id.encode("utf-8")

    @property
    def set_aside(self) -> list[str]:
        """Contract fields whose value could not be used and waits in ``extra`` (see the module docstring)."""
        return [name for name in self.extra if name in _KNOWN_FIELDS]

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent on the topic: contract fields that are set, then the kept unknown fields."""
        known = self.model_dump(mode="json", exclude={"extra"}, exclude_none=True)
        return {**self.extra, **known}

    def to_json(self) -> bytes:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_event(raw: bytes | None) -> TweetEvent | Rejection:
    """Validate one message value from the ``tweets`` topic. Never raises."""
    try:
        return _parse(raw)
    except Exception as exc:  # a safety net: a bug here must dead-letter one message, not stop the stream
        return Rejection(RejectReason.INVALID_EVENT, f"could not validate the event: {type(exc).__name__}: {exc}")


def _parse(raw: bytes | None) -> TweetEvent | Rejection:
    if not raw:
        return Rejection(RejectReason.EMPTY, "the message has no value")
    if len(raw) > MAX_PAYLOAD_BYTES:
        return Rejection(
            RejectReason.PAYLOAD_TOO_LARGE, f"the payload has {len(raw)} bytes, more than {MAX_PAYLOAD_BYTES}"
        )
    decoded = _decode_json(raw)
    if isinstance(decoded, Rejection):
        return decoded
    if not isinstance(decoded, dict):
        return Rejection(RejectReason.NOT_AN_OBJECT, f"the payload is a JSON {_json_type(decoded)}, not an object")
    fields = _required_fields(decoded)
    if isinstance(fields, Rejection):
        return fields
    tweet_id, text = fields
    optional, times, extra = _optional_fields(decoded)
    try:
        return TweetEvent(id=tweet_id, text=text, extra=extra, **optional, **times)
    except ValidationError as exc:
        return Rejection(RejectReason.INVALID_EVENT, f"invalid event: {exc.errors()[0]['msg']}")


def check_key(key: bytes | None, tweet_id: str) -> str | None:
    """What is wrong with a message's ``key`` for the tweet ``tweet_id``, or None: the key is the tweet id; a message
    without a key is accepted (it is stored under its id)."""
    if key is None or key == tweet_id.encode("utf-8"):
        return None
    shown = key[:60].decode("utf-8", errors="backslashreplace") + ("…" if len(key) > 60 else "")
    return f"the message key {shown!r} ({len(key)} bytes) is not the tweet id {_short(tweet_id, 60)!r}"


def _decode_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Rejection(RejectReason.NOT_UTF8, f"the payload is not valid UTF-8 (byte {exc.start}: {exc.reason})")
    try:
        decoded = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_fields
        )
    except RecursionError:
        return Rejection(RejectReason.TOO_DEEPLY_NESTED, f"the payload nests deeper than {MAX_DEPTH} levels")
    except _DuplicateField as exc:
        return Rejection(RejectReason.DUPLICATE_FIELD, str(exc))
    except _NumberOutOfRange as exc:
        return Rejection(RejectReason.NUMBER_OUT_OF_RANGE, str(exc))
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers with too many digits
        return Rejection(RejectReason.NOT_JSON, f"the payload is not JSON: {_short(str(exc))}")
    problem = _structure_problem(decoded)
    if problem is not None:
        return problem
    return decoded


def _required_fields(decoded: dict[str, Any]) -> tuple[str, str] | Rejection:
    tweet_id = decoded.get("id")
    if tweet_id is None:
        return Rejection(RejectReason.MISSING_ID, "the event has no id")
    if not isinstance(tweet_id, str):
        return Rejection(RejectReason.ID_WRONG_TYPE, f"id must be a string, got a JSON {_json_type(tweet_id)}")
    problem = check_id(tweet_id)
    if problem:
        return Rejection(RejectReason.INVALID_ID, problem)
    text = decoded.get("text")
    if text is None:
        return Rejection(RejectReason.MISSING_TEXT, "the event has no text")
    if not isinstance(text, str):
        return Rejection(RejectReason.TEXT_WRONG_TYPE, f"text must be a string, got a JSON {_json_type(text)}")
    text_problem = check_text(text)
    if text_problem:
        return Rejection(*text_problem)
    return tweet_id, text


def _optional_fields(decoded: dict[str, Any]) -> tuple[dict[str, str], dict[str, datetime], dict[str, Any]]:
    """Optional text fields and times that can be used, and everything kept aside in ``extra``: unknown fields, and
    optional values that cannot be used (under their own names)."""
    extra: dict[str, Any] = {name: value for name, value in decoded.items() if name not in _KNOWN_FIELDS}
    optional: dict[str, str] = {}
    for name in OPTIONAL_TEXT_FIELDS:
        value = decoded.get(name)
        if isinstance(value, str) and len(value) <= field_limit(name):
            optional[name] = value
        elif value is not None:
            extra[name] = value
    times: dict[str, datetime] = {}
    for name, parse in (("created_at", parse_tweet_time), ("published_at", parse_iso8601)):
        value = decoded.get(name)
        if value is None:
            continue
        try:
            if not isinstance(value, str):
                raise ValueError("not a string")
            times[name] = parse(value)
        except ValueError:
            extra[name] = value
    return optional, times, extra


class _DuplicateField(ValueError):
    pass


class _NumberOutOfRange(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberOutOfRange(f"the number {_short(text, 40)} is outside the 64-bit float range")
    return value


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _DuplicateField(f"the field {_short(name, 80)!r} appears more than once in one object")
        result[name] = value
    return result


def _structure_problem(value: Any) -> Rejection | None:
    """Nesting deeper than MAX_DEPTH, or a string (key or value) holding a lone surrogate; iterative, any depth."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return Rejection(
                    RejectReason.INVALID_UNICODE, "the payload escapes a lone UTF-16 surrogate (\\ud800-\\udfff)"
                )
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return Rejection(RejectReason.TOO_DEEPLY_NESTED, f"the payload nests deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
