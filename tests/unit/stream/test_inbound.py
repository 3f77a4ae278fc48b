"""What a delivered message carries besides its value: broker timestamps and headers in any shape, never raising."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tweet_triage.broker.inbound import InboundMessage, broker_time, normalize_headers


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1_714_564_800.25, datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        (0.0, datetime(1970, 1, 1, tzinfo=UTC)),
        (253_402_300_800.0, None),  # 10000-01-01: the crash of issue 12 ("year 10000 is out of range")
        (9_223_372_036_854_775.807, None),  # the largest Kafka timestamp (int64 milliseconds)
        (-0.001, None),  # Kafka's "no timestamp" (-1 ms)
        (-62_135_596_800.0, None),
        (float("nan"), None),
        (float("inf"), None),
        (None, None),
    ],
)
def test_broker_time_is_a_datetime_or_none_never_an_error(seconds: float | None, expected: datetime | None) -> None:
    assert broker_time(seconds) == expected


def test_from_broker_keeps_the_raw_timestamp_even_when_no_datetime_can_hold_it() -> None:
    message = InboundMessage.from_broker(
        topic="tweets", partition=0, offset=1, key=b"k", value=b"v", timestamp_s=253_402_300_800.0
    )
    assert message.time is None and message.timestamp_ms == 253_402_300_800_000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ()),
        ([("a", b"1"), ("b", None)], (("a", b"1"), ("b", b""))),
        ({"a": b"1"}, (("a", b"1"),)),
        ([(b"\xffname", bytearray(b"v"))], (("\ufffdname", b"v"),)),
        ([("a", "text")], (("a", b"text"),)),
        ([("just-one",), 5, ("a", b"1", "extra")], ()),  # not pairs: skipped, not fatal
        ("not headers", ()),
        (42, ()),
    ],
)
def test_headers_in_any_shape_become_name_value_pairs(raw: object, expected: tuple[tuple[str, bytes], ...]) -> None:
    assert normalize_headers(raw) == expected


def test_keys_and_values_of_unexpected_types_become_bytes() -> None:
    message = InboundMessage.from_broker(topic="t", partition=1, offset=2, key="id-1", value=memoryview(b"{}"))
    assert (message.key, message.value, message.timestamp_s, message.headers) == (b"id-1", b"{}", None, ())


def test_the_last_value_of_a_repeated_header_wins() -> None:
    message = InboundMessage("t", 0, 0, None, None, headers=(("x", b"1"), ("x", b"2")))
    assert message.header("x") == b"2" and message.header("y") is None
