"""A corpus of hostile messages for the ``tweets`` topic: what a broken or malicious producer can send.

Each :class:`Hostile` is one kind of message with what must become of it: ``expect`` is the reason of its dead
letter, or :data:`STORED` for messages that look odd but carry a valid tweet (an extreme broker timestamp, a huge
key, many headers): those must be scored and stored like any other. Every message is distinct (by value or key), so
a dead letter can be traced back to its kind by the sha256 of its value and key.

Used by the unit tests of parsing and batch isolation and by the integration test that mixes the corpus into 1,000
good tweets against the real worker. Built by :func:`corpus` (a few megabytes; nothing is built at import).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from tweet_triage.contracts.tweets import MAX_ID_CHARS, MAX_KEYWORD_CHARS, MAX_TEXT_CHARS, RejectReason

STORED: Final = "stored"
YEAR_10000_MS: Final = 253_402_300_800_000  # 10000-01-01T00:00:00Z: beyond what a datetime can hold
INT64_MAX: Final = 2**63 - 1


@dataclass(frozen=True)
class Hostile:
    kind: str
    value: bytes | None
    expect: str  # a RejectReason value, or STORED
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None
    tweet_id: str | None = None  # STORED kinds: the id that must be stored

    @property
    def fingerprint(self) -> tuple[str, str | None]:
        """(sha256 of the value, sha256 of the key), as a dead letter records them."""
        value = hashlib.sha256(self.value or b"").hexdigest()
        return value, None if self.key is None else hashlib.sha256(self.key).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _tweet(tweet_id: str, text: str = "smoke rising over the ridge", **fields: Any) -> bytes:
    return _json({"id": tweet_id, "text": text, **fields})


def _bad(kind: str, value: bytes | None, reason: RejectReason, **extra: Any) -> Hostile:
    return Hostile(kind, value, str(reason), key=extra.pop("key", f"hostile-{kind}".encode()), **extra)


def _odd(kind: str, tweet_id: str, value: bytes | None = None, **extra: Any) -> Hostile:
    key = extra.pop("key", tweet_id.encode())
    return Hostile(kind, value or _tweet(tweet_id), STORED, key=key, tweet_id=tweet_id, **extra)


def corpus() -> list[Hostile]:
    """Every kind: at least 30 that must be dead-lettered, and the odd-but-valid ones that must be stored."""
    return bad() + tolerated()


def bad(*, include_huge: bool = True) -> list[Hostile]:
    """Messages that must be dead-lettered with their reason (``include_huge``: the ones near 1 MiB)."""
    r = RejectReason
    nested = {"id": "h-nested", "text": "ok"}
    deep: Any = "bottom"
    for _ in range(40):
        deep = [deep]
    nested["extra"] = deep
    kinds = [
        # the value as a whole
        _bad("empty", b"", r.EMPTY),
        _bad("tombstone", None, r.EMPTY),
        _bad("not-json", b"id=h-1&text=help", r.NOT_JSON),
        _bad("truncated-json", b'{"id": "h-2", "text": "hel', r.NOT_JSON),
        _bad("trailing-garbage", b'{"id": "h-3", "text": "help"} and more', r.NOT_JSON),
        _bad("whitespace-only", b"   \n\t  ", r.NOT_JSON),
        _bad("nan-literal", b'{"id": "h-4", "text": "help", "score": NaN}', r.NOT_JSON),
        _bad("integer-5000-digits", b'{"id": "h-5", "text": "t", "n": ' + b"9" * 5000 + b"}", r.NOT_JSON),
        _bad("number-1e999", b'{"id": "h-6", "text": "help", "score": 1e999}', r.NUMBER_OUT_OF_RANGE),
        _bad("negative-1e999-id", b'{"id": -1e999, "text": "help"}', r.NUMBER_OUT_OF_RANGE),
        _bad("json-array", b'[{"id": "h-7", "text": "t"}]', r.NOT_AN_OBJECT),
        _bad("json-string", b'"h-8 help"', r.NOT_AN_OBJECT),
        _bad("json-null", b"null", r.NOT_AN_OBJECT),
        _bad("json-number", b"911", r.NOT_AN_OBJECT),
        _bad("invalid-utf8", b'{"id": "h-9", "text": "caf\xe9"}', r.NOT_UTF8),
        _bad("overlong-utf8", b'{"id": "h-10", "text": "\xc0\xaf"}', r.NOT_UTF8),
        _bad("utf8-encoded-surrogate", b'{"id": "h-11", "text": "\xed\xa0\x80"}', r.NOT_UTF8),
        _bad("utf16-json", '{"id": "h-12", "text": "help"}'.encode("utf-16"), r.NOT_UTF8),
        _bad("lone-surrogate-escape", b'{"id": "h-13", "text": "\\ud83d oops"}', r.INVALID_UNICODE),
        _bad("lone-surrogate-in-field-name", b'{"id": "h-14", "text": "t", "\\udc00": 1}', r.INVALID_UNICODE),
        _bad("deeply-nested-array", b"[" * 30_000 + b"]" * 30_000, r.TOO_DEEPLY_NESTED),
        _bad("nested-unknown-field", _json(nested), r.TOO_DEEPLY_NESTED),
        _bad("duplicate-id-field", b'{"id": "h-15", "id": "h-16", "text": "help"}', r.DUPLICATE_FIELD),
        _bad("payload-70kb", _tweet("h-17", "y" * 70_000), r.PAYLOAD_TOO_LARGE),
        # the id
        _bad("missing-id", b'{"text": "no id here h-18"}', r.MISSING_ID),
        _bad("null-id", b'{"id": null, "text": "help h-19"}', r.MISSING_ID),
        _bad("numeric-id", b'{"id": 1628374619283746192, "text": "help"}', r.ID_WRONG_TYPE),
        _bad("object-id", b'{"id": {"v": "h-20"}, "text": "help"}', r.ID_WRONG_TYPE),
        _bad("blank-id", b'{"id": "   ", "text": "help h-21"}', r.INVALID_ID),
        _bad("id-with-slash", _tweet("h/22"), r.INVALID_ID),
        _bad("id-with-hash-and-question-mark", _tweet("h#23?x"), r.INVALID_ID),
        _bad("id-with-backslash", _tweet("h\\24"), r.INVALID_ID),
        _bad("id-with-tab", _tweet("h\t25"), r.INVALID_ID),
        _bad("id-with-nul", _tweet("h\x0026"), r.INVALID_ID),
        _bad("id-trailing-space", _tweet("h-27 "), r.INVALID_ID),
        _bad("id-zero-width-only", _tweet("\u200b\u200b"), r.INVALID_ID),
        _bad("id-with-bidi-override", _tweet("h-28\u202e"), r.INVALID_ID),
        _bad("id-too-long", _tweet("9" * (MAX_ID_CHARS + 1)), r.INVALID_ID),
        # the text
        _bad("missing-text", b'{"id": "h-29"}', r.MISSING_TEXT),
        _bad("null-text", b'{"id": "h-30", "text": null}', r.MISSING_TEXT),
        _bad("numeric-text", b'{"id": "h-31", "text": 911}', r.TEXT_WRONG_TYPE),
        _bad("list-text", b'{"id": "h-32", "text": ["help"]}', r.TEXT_WRONG_TYPE),
        _bad("empty-text", _tweet("h-33", ""), r.BLANK_TEXT),
        _bad("whitespace-text", _tweet("h-34", " \n\t\u3000 "), r.BLANK_TEXT),
        _bad("invisible-only-text", _tweet("h-35", "\u200b\u200c\u200d\u2060\ufeff\u200e"), r.BLANK_TEXT),
        _bad("hangul-filler-text", _tweet("h-36", "\u3164\u3164\u2800"), r.BLANK_TEXT),
        _bad("combining-marks-only-text", _tweet("h-37", "\u0301\u0302\u0303"), r.BLANK_TEXT),
        _bad("text-too-long", _tweet("h-38", "a" * (MAX_TEXT_CHARS + 1)), r.TEXT_TOO_LONG),
        # the key is the tweet id: another key would let two texts overwrite each other under one id
        _bad("key-not-the-id", _tweet("h-39"), r.KEY_MISMATCH, key=b"some-other-key"),
        _bad("key-invalid-utf8", _tweet("h-40"), r.KEY_MISMATCH, key=b"\xff\xfe\xfd"),
        # a bad value with hostile metadata: the dead letter itself must survive it
        _bad("bad-value-timestamp-year-10000", b"not json h-47", r.NOT_JSON, timestamp_ms=YEAR_10000_MS),
        _bad("bad-value-timestamp-int64-max", b"not json h-48", r.NOT_JSON, timestamp_ms=INT64_MAX),
        _bad("bad-value-timestamp-zero", b"not json h-49", r.NOT_JSON, timestamp_ms=0),
        _bad("bad-value-key-invalid-utf8", b"not json h-50", r.NOT_JSON, key=b"\xff\xfe\x00key"),
        _bad(
            "bad-value-many-headers",
            b"not json h-51",
            r.NOT_JSON,
            headers=tuple((f"h{i}", bytes([i % 256]) * 2048) for i in range(100)),
        ),
        _bad("bad-value-binary-header", b"not json h-52", r.NOT_JSON, headers=(("\u00e9\u0000x", b"\xff" * 10),)),
    ]
    if include_huge:
        kinds += [
            _bad("payload-900kb", _tweet("h-53", "z" * 900_000), r.PAYLOAD_TOO_LARGE),
            _bad("bad-value-key-600kb", b"not json h-54", r.NOT_JSON, key=b"k" * 600_000),
            _bad("key-600kb", _tweet("h-55"), r.KEY_MISMATCH, key=b"k" * 600_000 + b"-h-55"),
        ]
    return kinds


def tolerated(*, include_huge: bool = True) -> list[Hostile]:
    """Odd messages that carry a valid tweet: they must be stored, the oddity ignored."""
    kinds = [
        _odd("timestamp-year-10000", "odd-ts-10000", timestamp_ms=YEAR_10000_MS),
        _odd("timestamp-int64-max", "odd-ts-max", timestamp_ms=INT64_MAX),
        _odd("timestamp-zero", "odd-ts-zero", timestamp_ms=0),
        _odd("no-key", "odd-no-key", key=None),
        _odd("many-headers", "odd-headers", headers=tuple((f"x-{i}", b"v" * 512) for i in range(200))),
        _odd("byte-order-mark", "odd-bom", value=b"\xef\xbb\xbf" + _tweet("odd-bom")),
        _odd("unknown-fields", "odd-extra", value=_tweet("odd-extra", tags=[{"a": [1, 2.5, None]}], n=10**30)),
        _odd("wrong-type-optional-fields", "odd-types", value=_tweet("odd-types", keyword=5, lang=["en"])),
        _odd("garbled-published-at", "odd-published", value=_tweet("odd-published", published_at="soon")),
        _odd("unicode-id", "odd-é-火-😀", value=_tweet("odd-é-火-😀")),
        _odd("id-at-the-limit", "o" * MAX_ID_CHARS),
        _odd("text-at-the-limit", "odd-long-text", value=_tweet("odd-long-text", "f" * MAX_TEXT_CHARS)),
        _odd("emoji-and-rtl-text", "odd-emoji", value=_tweet("odd-emoji", "🔥🌊 حريق \u202bفي المدينة\u202c ⚠️")),
        _odd("created-at-year-1", "odd-year-1", value=_tweet("odd-year-1", created_at="0001-01-01T00:00:00Z")),
        _odd("created-at-twitter-v1", "odd-v1", value=_tweet("odd-v1", created_at="Wed Oct 10 20:19:24 +0000 2018")),
        _odd("created-at-twitter-v2", "odd-v2", value=_tweet("odd-v2", created_at="2018-10-10T20:19:24.000Z")),
        # optional fields that cannot be used are set aside, never fatal
        _odd("keyword-10000-chars", "odd-h39", value=_tweet("odd-h39", keyword="k" * 10_000)),
        _odd("keyword-just-too-long", "odd-h40", value=_tweet("odd-h40", keyword="k" * (MAX_KEYWORD_CHARS + 1))),
        _odd("location-10000-chars", "odd-h41", value=_tweet("odd-h41", location="l" * 10_000)),
        _odd("created-at-not-a-time", "odd-h42", value=_tweet("odd-h42", created_at="yesterday-ish")),
        _odd("created-at-year-10000", "odd-h43", value=_tweet("odd-h43", created_at="10000-01-01T00:00:00Z")),
        _odd("created-at-beyond-utc", "odd-h44", value=_tweet("odd-h44", created_at="9999-12-31T23:59:59-23:59")),
        _odd("created-at-before-year-1", "odd-h45", value=_tweet("odd-h45", created_at="0001-01-01T00:00:00+05:00")),
        _odd("created-at-epoch-number", "odd-h46", value=_tweet("odd-h46", created_at=1714564800)),
        _odd("control-characters-in-text", "odd-ctrl", value=_tweet("odd-ctrl", "fire\x00 near\x1b the\x7f bridge")),
    ]
    if include_huge:
        kinds.append(_odd("payload-60kb-unknown-field", "odd-60kb", value=_tweet("odd-60kb", pad="p" * 60_000)))
    return kinds
