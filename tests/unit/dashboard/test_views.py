from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.dashboard.fakes import NOW, record
from tweet_triage.api.schemas import ExplainResponse, PredictionOut, WordWeightOut
from tweet_triage.dashboard import views
from tweet_triage.errors import UsageError
from tweet_triage.stream.store.records import PredictionRecord

RECORDS = [
    record("a", "forest fire near the lake", "disaster", 0.93, minutes_ago=50, location="La Ronge"),
    record("b", "my new mixtape is fire", "not_disaster", 0.81, minutes_ago=5),
    record("c", "flood water in the streets", "disaster", 0.66, minutes_ago=2),
    record("d", "what a lovely day", "not_disaster", 0.97, minutes_ago=300),
]


def ids(records: list[PredictionRecord]) -> list[str]:
    return [r.id for r in records]


def test_newest_first_with_emergencies_on_top() -> None:
    assert ids(views.apply_filter(RECORDS, views.FeedFilter(), now=NOW)) == ["c", "a", "b", "d"]
    plain = views.FeedFilter(emergencies_first=False)
    assert ids(views.apply_filter(RECORDS, plain, now=NOW)) == ["c", "b", "a", "d"]


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (views.FeedFilter(labels=frozenset({"disaster"})), ["c", "a"]),
        (views.FeedFilter(min_confidence=0.9), ["a", "d"]),
        (views.FeedFilter(window=timedelta(hours=1)), ["c", "a", "b"]),
        (views.FeedFilter(keyword="FIRE"), ["a", "b"]),
        (views.FeedFilter(keyword="ronge"), ["a"]),
        (views.FeedFilter(labels=frozenset()), []),
    ],
)
def test_filters(chosen: views.FeedFilter, expected: list[str]) -> None:
    assert ids(views.apply_filter(RECORDS, chosen, now=NOW)) == expected


def test_counts_over_time_per_label_in_plain_words() -> None:
    table = views.counts_over_time(RECORDS[:3])
    assert list(table.columns) == ["Emergency", "Not an emergency"]
    assert int(table["Emergency"].sum()) == 2 and int(table["Not an emergency"].sum()) == 1
    assert table.index.is_monotonic_increasing
    assert views.counts_over_time([]).empty


@pytest.mark.parametrize(
    ("span", "bucket"),
    [(timedelta(minutes=1), timedelta(seconds=10)), (timedelta(hours=1), timedelta(minutes=1))],
)
def test_bucket_follows_the_span(span: timedelta, bucket: timedelta) -> None:
    assert views.choose_bucket(span) == bucket


def test_highlight_escapes_text_and_shades_only_notable_words() -> None:
    text = "<b>fire</b> & calm"
    words = [
        WordWeightOut(word="<b>fire</b>", start=0, end=11, weight=0.4),
        WordWeightOut(word="&", start=12, end=13, weight=0.0),
        WordWeightOut(word="calm", start=14, end=18, weight=-0.2),
    ]
    out = views.highlight_html(text, words)
    assert "<b>" not in out and "&lt;b&gt;fire&lt;/b&gt;" in out
    assert out.count("<span") == 2
    assert "rgba(220, 38, 38" in out and "rgba(37, 99, 235" in out
    assert views.top_words(words) == "<b>fire</b> (+0.40)"
    assert views.any_notable(words) and not views.any_notable(words[1:2])


def test_plain_words() -> None:
    assert views.plain_label("disaster") == "Emergency"
    assert views.plain_label("needs_water") == "Needs water"
    assert views.sureness(0.93) == "93% — very sure"
    assert views.sureness(0.55) == "55% — unsure"


def test_csv_checks_label_explain_and_skip_blank_rows() -> None:
    frame = views.read_csv(b"id,Text\n1,flood and fire\n2,\n3,calm day\n")
    assert views.guess_text_column(list(frame.columns)) == "Text"

    def predict(texts: list[str]) -> list[PredictionOut]:
        return [
            PredictionOut(
                id=None,
                label="disaster" if "fire" in t else "not_disaster",
                confidence=0.8,
                probabilities={},
                model_version="7",
            )
            for t in texts
        ]

    def explain(text: str) -> ExplainResponse:
        words = [WordWeightOut(word="fire", start=0, end=4, weight=0.5)] if "fire" in text else []
        return ExplainResponse(
            label="x", confidence=0.8, probabilities={}, model_version="7", method="m", words=words, latency_ms=1
        )

    progress: list[float] = []
    result = views.check_texts(list(frame["Text"]), predict=predict, explain=explain, on_progress=progress.append)
    assert list(result["text"]) == ["flood and fire", "calm day"]
    assert list(result["meaning"]) == ["Emergency", "Not an emergency"]
    assert list(result["why (words that weighed most)"]) == ["fire (+0.50)", ""]
    assert progress[-1] == 1.0


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00bad", b"text\n"])
def test_unreadable_or_empty_csv_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(UsageError):
        views.read_csv(data)


def test_tweet_text_is_shown_literally_not_as_markdown() -> None:
    text = "# BREAKING **fire** [map](http://x.co) :fire: $5$ 1. a_b"
    escaped = views.escape_markdown(text)
    assert escaped.startswith("\\# BREAKING \\*\\*fire\\*\\* \\[map\\]\\(http\\:")
    assert "\\$5\\$" in escaped and "a\\_b" in escaped
    words = [WordWeightOut(word="**fire**", start=11, end=19, weight=0.5)]
    out = views.highlight_html(text, words)
    assert "**" not in out and "#" not in out.replace("&#", "") and "&#42;&#42;fire&#42;&#42;" in out


def test_the_operating_point_is_told_in_plain_words() -> None:
    tags = {
        "operating_point.threshold": "0.2400",
        "operating_point.recall": "0.93",
        "operating_point.precision": "0.71",
    }
    caption = views.operating_point_caption(tags)
    assert caption is not None and "from 24% sure" in caption and "caught 93%" in caption and "71%" in caption
    assert views.operating_point_caption({}) is None  # an older model: nothing to say
    assert views.language_name("pt") == "Portuguese" and views.language_name(None) == "too short to tell"
