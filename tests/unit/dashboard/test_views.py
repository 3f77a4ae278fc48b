from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.dashboard.fakes import NOW, record
from tweet_triage.api.schemas import ExplainResponse, PredictionOut, WordWeightOut
from tweet_triage.dashboard import views
from tweet_triage.errors import UsageError
from tweet_triage.model.places import Place
from tweet_triage.store.records import PredictionRecord

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
    table, axis = views.counts_over_time(RECORDS[:3])
    assert list(table.columns) == ["Emergency", "Not an emergency"]
    assert int(table["Emergency"].sum()) == 2 and int(table["Not an emergency"].sum()) == 1
    assert axis.bucket == timedelta(minutes=1), "48 minutes of tweets: one bar a minute"
    assert len(table) == 49 and table.index[0] == "11:10" and table.index[-1] == "11:58"
    assert views.counts_over_time([])[0].empty


@pytest.mark.parametrize(
    ("span", "bucket", "fmt"),
    [
        (timedelta(seconds=3), timedelta(seconds=1), "%H:%M:%S"),
        (timedelta(minutes=1), timedelta(seconds=1), "%H:%M:%S"),
        (timedelta(minutes=4), timedelta(seconds=10), "%H:%M:%S"),
        (timedelta(hours=1), timedelta(minutes=1), "%H:%M"),
        (timedelta(hours=20), timedelta(minutes=15), "%H:%M"),
        (timedelta(days=3), timedelta(hours=1), "%d %b %H:%M"),
        (timedelta(days=30), timedelta(hours=6), "%d %b %H:%M"),
    ],
)
def test_the_time_axis_follows_the_span_and_never_shows_fractions_of_a_second(
    span: timedelta, bucket: timedelta, fmt: str
) -> None:
    axis = views.time_axis(span)
    assert (axis.bucket, axis.format) == (bucket, fmt)
    assert "%f" not in axis.format


def test_tweets_seconds_apart_get_whole_second_bars() -> None:
    close = [record(f"t{i}", "fire", "disaster", 0.9, minutes_ago=i / 120) for i in range(4)]  # 0.5 s apart
    table, axis = views.counts_over_time(close)
    assert axis.format == "%H:%M:%S"
    assert list(table.index) == ["11:59:58", "11:59:59", "12:00:00"], "whole seconds, every bar labelled"
    assert int(table.to_numpy().sum()) == 4


def test_quiet_buckets_are_empty_bars_not_missing_ones() -> None:
    apart = [record("a", "fire", "disaster", 0.9, minutes_ago=10), record("b", "fire", "disaster", 0.9, minutes_ago=0)]
    table, _ = views.counts_over_time(apart)
    assert len(table) == 11 and int(table["Emergency"].sum()) == 2


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
    assert views.sureness(0.93) == "93% — very likely"
    assert views.sureness(0.55) == "55% — uncertain"


@pytest.mark.parametrize("confidence", [0.0, 0.2, 0.5, 0.69, 0.7, 0.9, 0.999, 1.0])
def test_each_confidence_has_exactly_one_band_and_the_legend_names_every_band(confidence: float) -> None:
    band = views.confidence_band(confidence)
    assert band.lowest <= confidence
    assert all(other.lowest > confidence for other in views.CONFIDENCE_BANDS if other.lowest > band.lowest)
    assert views.sureness(confidence).endswith(band.word)
    legend = views.confidence_legend()
    assert all(b.word in legend for b in views.CONFIDENCE_BANDS)


def test_a_story_is_shown_once_with_its_count_and_first_and_last_seen() -> None:
    original = record("o", "Bridge down on 5th", "disaster", 0.9, minutes_ago=30, story_id="s-1")
    retweet = record("r", "RT @x: Bridge down on 5th", "disaster", 0.9, minutes_ago=2, story_id="s-1")
    other = record("x", "calm", "not_disaster", 0.9, minutes_ago=1, story_id="s-2")
    stories = views.fold_stories(views.apply_filter([original, retweet, other], views.FeedFilter(), now=NOW))
    assert [(s.lead.id, s.count) for s in stories] == [("r", 2), ("x", 1)]
    assert stories[0].first_seen == original.scored_at and stories[0].last_seen == retweet.scored_at
    assert views.seen_line(stories[0]) == "Seen 2 times, from 11:30:00 to 11:58:00"
    assert views.seen_line(stories[1]) is None


def test_places_count_emergencies_filter_and_export_as_geojson_and_csv() -> None:
    kathmandu = Place(name="Kathmandu", country="NP", kind="city", latitude=27.7, longitude=85.3, source="text")
    quake = record("q", "Quake in Kathmandu", "disaster", 0.9, minutes_ago=1, place=kathmandu)
    calm = record("c", "Calm in Kathmandu", "not_disaster", 0.9, minutes_ago=2, place=kathmandu)
    nowhere = record("n", "fire!", "disaster", 0.9, minutes_ago=3)
    rows = views.emergency_places([quake, calm, nowhere])
    assert [(r.label, r.emergencies) for r in rows] == [("Kathmandu, NP", 1)]
    assert views.place_choices([quake, calm, nowhere]) == ["Kathmandu, NP", "NP"]
    assert ids(views.apply_filter([quake, calm, nowhere], views.FeedFilter(place="NP"), now=NOW)) == ["q", "c"]
    collection = views.to_geojson([quake, nowhere])
    [feature] = collection["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [85.3, 27.7]}
    assert feature["properties"]["place"] == "Kathmandu, NP" and feature["properties"]["label"] == "disaster"
    table = views.read_csv(views.to_csv([quake, nowhere]))
    assert list(table.columns) == list(views.EXPORT_COLUMNS)
    assert table["place"].tolist() == ["Kathmandu, NP", ""] and table["latitude"].tolist() == ["27.7", ""]


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
