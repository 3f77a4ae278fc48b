"""Plain logic behind the dashboard's page: words for people, filters, counts over time, highlighted words, CSV checks.

Nothing here imports Streamlit, so all of it is tested directly.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from tweet_triage.api.schemas import ExplainResponse, PredictionOut, WordWeightOut
from tweet_triage.errors import UsageError
from tweet_triage.model.places import Place
from tweet_triage.store.records import PredictionRecord

EMERGENCY_LABEL = "disaster"
PLAIN_LABELS = {"disaster": "Emergency", "not_disaster": "Not an emergency"}
TIME_WINDOWS: dict[str, timedelta | None] = {
    "Last 15 minutes": timedelta(minutes=15),
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Everything loaded": None,
}
TEXT_COLUMNS = ("text", "tweet", "message", "content", "body")
_NOTABLE = 0.02  # weights smaller than this are shown without colour
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|>~:$<")


def escape_markdown(text: str) -> str:
    """Tweet text shown literally in Streamlit markdown: no headings, links, emphasis, emoji codes or LaTeX."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIAL else c for c in text)


def _literal_html(text: str) -> str:
    """HTML-escaped, with markdown's special characters as numeric entities (markdown leaves those alone)."""
    return "".join(f"&#{ord(c)};" if c in _MARKDOWN_SPECIAL else c for c in html.escape(text, quote=True))


def plain_label(label: str) -> str:
    return PLAIN_LABELS.get(label, label.replace("_", " ").capitalize())


def is_emergency(label: str) -> bool:
    return label == EMERGENCY_LABEL


OUT_OF_SCOPE_NOTE = "⚠️ Written in {language}: the model only reads English here, so check this one yourself."
_LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "fr": "French", "it": "Italian", "de": "German",
    "nl": "Dutch", "id": "Indonesian", "ms": "Malay", "tl": "Tagalog", "tr": "Turkish", "ar": "Arabic",
    "fa": "Persian", "ur": "Urdu", "hi": "Hindi", "bn": "Bengali", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
    "ru": "Russian", "uk": "Ukrainian", "pl": "Polish", "sw": "Swahili", "th": "Thai", "vi": "Vietnamese",
    "el": "Greek", "ro": "Romanian", "sv": "Swedish", "ht": "Haitian Creole",
}  # fmt: skip


def language_name(code: str | None) -> str:
    if code is None:
        return "too short to tell"
    return _LANGUAGE_NAMES.get(code, code)


def operating_point_caption(tags: dict[str, str]) -> str | None:
    """How the model decides, in words a coordinator reads, from the version's operating-point tags."""
    if "operating_point.threshold" not in tags:
        return None
    threshold = float(tags["operating_point.threshold"])
    recall = float(tags.get("operating_point.recall", "nan"))
    precision = float(tags.get("operating_point.precision", "nan"))
    return (
        f"It flags a tweet as an emergency from {threshold:.0%} sure, chosen so it misses few: on check tweets it "
        f"caught {recall:.0%} of emergencies, and {precision:.0%} of its flags were real."
    )


@dataclass(frozen=True)
class ConfidenceBand:
    lowest: float  # the band holds confidences from here up to the next band's lowest
    word: str
    meaning: str  # what the calibration says about tweets in this band


# The model's probabilities are calibrated (its expected calibration error is logged with every version): of the
# tweets it gives 80%, about 8 in 10 carry that label. So each band says how often such a label is right. Below 50%
# a label is the operating point's doing: the tweet is more likely *not* an emergency, but it is flagged so that
# few are missed. One band, one word, everywhere on the page.
CONFIDENCE_BANDS: tuple[ConfidenceBand, ...] = (
    ConfidenceBand(0.9, "very likely", "right about 9 times in 10 or more"),
    ConfidenceBand(0.7, "likely", "right about 7 to 9 times in 10"),
    ConfidenceBand(0.5, "uncertain", "right about 5 to 7 times in 10: worth a look"),
    ConfidenceBand(0.0, "flagged to be safe", "more likely not, but shown so that no call for help is missed"),
)


def confidence_band(confidence: float) -> ConfidenceBand:
    return next(band for band in CONFIDENCE_BANDS if confidence >= band.lowest)


def sureness(confidence: float) -> str:
    """Confidence in words a coordinator reads at a glance: ``85% — likely``."""
    return f"{confidence:.0%} — {confidence_band(confidence).word}"


def confidence_legend() -> str:
    """What the words mean, for a caption under the feed."""
    parts = []
    upper = 1.0
    for band in CONFIDENCE_BANDS:
        parts.append(f"**{band.word}** ({band.lowest:.0%}–{upper:.0%}): {band.meaning}")
        upper = band.lowest
    return "How sure the model is — " + "; ".join(parts) + "."


# ---- the feed -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFilter:
    labels: frozenset[str] | None = None  # None: every label
    min_confidence: float = 0.0
    window: timedelta | None = None  # None: everything loaded
    keyword: str = ""
    emergencies_first: bool = True
    place: str | None = None  # a place's label, or a country code; None: anywhere


def apply_filter(records: Sequence[PredictionRecord], chosen: FeedFilter, *, now: datetime) -> list[PredictionRecord]:
    """The records that pass ``chosen``: newest first, emergencies on top when asked."""
    needle = chosen.keyword.strip().lower()
    kept = [
        r
        for r in records
        if (chosen.labels is None or r.label in chosen.labels)
        and r.confidence >= chosen.min_confidence
        and (chosen.window is None or r.scored_at >= now - chosen.window)
        and (not needle or needle in " ".join(filter(None, (r.text, r.keyword, r.location, r.user))).lower())
        and (chosen.place is None or (r.place is not None and chosen.place in (r.place.label, r.place.country)))
    ]
    kept.sort(key=lambda r: r.order_key, reverse=True)
    if chosen.emergencies_first:
        kept.sort(key=lambda r: not is_emergency(r.label))  # stable: newest first within each group
    return kept


@dataclass(frozen=True)
class Story:
    """One report and its copies (retweets, near-copies): shown once, with how often and when it was seen."""

    lead: PredictionRecord  # the copy shown: the first in feed order
    copies: tuple[PredictionRecord, ...]  # every copy loaded, the lead first

    @property
    def count(self) -> int:
        return len(self.copies)

    @property
    def first_seen(self) -> datetime:
        return min(r.scored_at for r in self.copies)

    @property
    def last_seen(self) -> datetime:
        return max(r.scored_at for r in self.copies)


def fold_stories(records: Sequence[PredictionRecord]) -> list[Story]:
    """Records grouped by story id, in the order each story first appears (records without one stand alone)."""
    groups: dict[str, list[PredictionRecord]] = {}
    for record in records:
        groups.setdefault(record.story_id or f"record:{record.id}", []).append(record)
    return [Story(members[0], tuple(members)) for members in groups.values()]


def seen_line(story: Story) -> str | None:
    """``Seen 3 times, from 14:02 to 14:30`` for a repeated story (None for a single tweet)."""
    if story.count < 2:
        return None
    first, last = story.first_seen, story.last_seen
    day = "%d %b " if first.date() != last.date() else ""
    return f"Seen {story.count} times, from {first.strftime(day + '%H:%M:%S')} to {last.strftime(day + '%H:%M:%S')}"


@dataclass(frozen=True)
class TimeAxis:
    """Bars and labels that read well over a span: whole seconds, minutes or hours, never ".500"."""

    bucket: timedelta  # the width of one bar
    format: str  # strftime format of bar labels: seconds only when they matter, the day once it can change


_AXES: tuple[tuple[timedelta, TimeAxis], ...] = (
    (timedelta(minutes=1), TimeAxis(timedelta(seconds=1), "%H:%M:%S")),
    (timedelta(minutes=5), TimeAxis(timedelta(seconds=10), "%H:%M:%S")),
    (timedelta(hours=2), TimeAxis(timedelta(minutes=1), "%H:%M")),
    (timedelta(days=1), TimeAxis(timedelta(minutes=15), "%H:%M")),
    (timedelta(days=7), TimeAxis(timedelta(hours=1), "%d %b %H:%M")),
)
_LONGEST = TimeAxis(timedelta(hours=6), "%d %b %H:%M")


def time_axis(span: timedelta) -> TimeAxis:
    """The axis for tweets spread over ``span`` (from the first to the last)."""
    return next((axis for up_to, axis in _AXES if span <= up_to), _LONGEST)


MAX_BARS = 400


def counts_over_time(records: Sequence[PredictionRecord]) -> tuple[pd.DataFrame, TimeAxis]:
    """Tweets per time bar (rows, oldest first, empty bars included) and label in plain words (columns), and the
    axis they are drawn on; an empty table without records. The index is the bar's start as text in the axis's
    format, so the chart shows exactly those labels (never ".500")."""
    if not records:
        return pd.DataFrame(), _AXES[0][1]
    times = pd.to_datetime([r.scored_at for r in records], utc=True)
    axis = time_axis(times.max() - times.min())
    frame = pd.DataFrame({"time": times.floor(axis.bucket), "label": [plain_label(r.label) for r in records]})
    table = frame.groupby(["time", "label"]).size().unstack(fill_value=0).sort_index()
    every = pd.date_range(table.index.min(), table.index.max(), freq=axis.bucket)
    if len(every) <= MAX_BARS:
        table = table.reindex(every, fill_value=0)  # a quiet minute shows as a gap, not as nothing
    table.index = [t.strftime(axis.format) for t in table.index]
    table.index.name = "time"
    table.columns.name = None
    return table, axis


# ---- places ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceCount:
    label: str
    kind: str
    latitude: float
    longitude: float
    emergencies: int
    last_seen: datetime


def emergency_places(records: Sequence[PredictionRecord]) -> list[PlaceCount]:
    """Where the emergencies are: one row per place, most emergencies first (tweets without a place left out)."""
    groups: dict[str, tuple[Place, list[datetime]]] = {}
    for record in records:
        if record.place is not None and is_emergency(record.label):
            groups.setdefault(record.place.label, (record.place, []))[1].append(record.scored_at)
    rows = [
        PlaceCount(label, place.kind, place.latitude, place.longitude, len(times), max(times))
        for label, (place, times) in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row.emergencies, row.label))


def place_choices(records: Sequence[PredictionRecord]) -> list[str]:
    """Places to filter by: every place and country the loaded tweets mention, most mentioned first."""
    counts: dict[str, int] = {}
    for record in records:
        if record.place is not None:
            for name in {record.place.label, record.place.country}:
                counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda name: (-counts[name], name))


EXPORT_COLUMNS = (
    "id", "scored_at", "label", "confidence", "text", "place", "place_kind", "country", "latitude", "longitude",
    "place_from", "story_id", "language", "out_of_scope", "model_version",
)  # fmt: skip


def export_rows(records: Sequence[PredictionRecord]) -> list[dict[str, object]]:
    """Flat rows for partners (CSV), one per tweet; place columns empty for tweets without a place."""
    rows = []
    for r in records:
        place = r.place
        rows.append(
            {
                "id": r.id,
                "scored_at": r.scored_at.isoformat(),
                "label": r.label,
                "confidence": round(r.confidence, 4),
                "text": r.text,
                "place": place.label if place else "",
                "place_kind": place.kind if place else "",
                "country": place.country if place else "",
                "latitude": place.latitude if place else "",
                "longitude": place.longitude if place else "",
                "place_from": place.source if place else "",
                "story_id": r.story_id or "",
                "language": r.language or "",
                "out_of_scope": r.out_of_scope,
                "model_version": r.model_version,
            }
        )
    return rows


def to_csv(records: Sequence[PredictionRecord]) -> bytes:
    return pd.DataFrame(export_rows(records), columns=list(EXPORT_COLUMNS)).to_csv(index=False).encode("utf-8")


def to_geojson(records: Sequence[PredictionRecord]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the tweets that have a place (points, [longitude, latitude] as GeoJSON says)."""
    features = []
    for row, record in zip(export_rows(records), records, strict=True):
        if record.place is None:
            continue
        properties = {k: v for k, v in row.items() if k not in ("latitude", "longitude")}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [record.place.longitude, record.place.latitude]},
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# ---- explanations ---------------------------------------------------------------------------------------------


def highlight_html(text: str, words: Sequence[WordWeightOut]) -> str:
    """``text`` as HTML with each word shaded by its weight: red pushes towards the label shown, blue against it."""
    strongest = max((abs(w.weight) for w in words), default=0.0) or 1.0
    parts: list[str] = []
    cursor = 0
    for word in sorted(words, key=lambda w: w.start):
        parts.append(_literal_html(text[cursor : word.start]))
        segment = _literal_html(text[word.start : word.end])
        if abs(word.weight) < _NOTABLE:
            parts.append(segment)
        else:
            alpha = 0.15 + 0.65 * abs(word.weight) / strongest
            colour = f"rgba(220, 38, 38, {alpha:.2f})" if word.weight > 0 else f"rgba(37, 99, 235, {alpha:.2f})"
            parts.append(
                f'<span title="{word.weight:+.2f}" style="background:{colour}; border-radius:3px; '
                f'padding:0 2px">{segment}</span>'
            )
        cursor = word.end
    parts.append(_literal_html(text[cursor:]))
    return "".join(parts)


def any_notable(words: Sequence[WordWeightOut]) -> bool:
    """Whether any word moved the score enough to be shaded."""
    return any(abs(w.weight) >= _NOTABLE for w in words)


def top_words(words: Sequence[WordWeightOut], n: int = 3) -> str:
    """The words that pushed most towards the label, e.g. ``fire (+0.31), flood (+0.12)``."""
    best = sorted((w for w in words if w.weight >= _NOTABLE), key=lambda w: w.weight, reverse=True)[:n]
    return ", ".join(f"{w.word} ({w.weight:+.2f})" for w in best)


# ---- CSV checks -----------------------------------------------------------------------------------------------


def read_csv(data: bytes) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UsageError(f"this file cannot be read as a UTF-8 CSV file: {exc}") from exc
    if frame.empty:
        raise UsageError("the file has no rows")
    return frame


def guess_text_column(columns: Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[name] for name in TEXT_COLUMNS if name in lowered), None)


def check_texts(
    texts: Sequence[str],
    *,
    predict: Callable[[list[str]], list[PredictionOut]],
    explain: Callable[[str], ExplainResponse] | None,
    batch_size: int = 16,
    on_progress: Callable[[float], None] = lambda _: None,
) -> pd.DataFrame:
    """Label (in plain words), confidence and the words that weighed most, for each text (blank ones skipped)."""
    rows: list[dict[str, object]] = []
    kept = [t for t in texts if t.strip()]
    for start in range(0, len(kept), batch_size):
        chunk = kept[start : start + batch_size]
        for text, prediction in zip(chunk, predict(chunk), strict=True):
            why = top_words(explain(text).words) if explain is not None else ""
            rows.append(
                {
                    "text": text,
                    "label": prediction.label,
                    "meaning": plain_label(prediction.label),
                    "confidence": round(prediction.confidence, 4),
                    "language": language_name(prediction.language)
                    + (" (the model does not read it)" if prediction.out_of_scope else ""),
                    "why (words that weighed most)": why,
                    "model_version": prediction.model_version,
                }
            )
            on_progress(len(rows) / max(len(kept), 1))
    return pd.DataFrame(rows)
