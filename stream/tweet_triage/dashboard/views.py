"""Plain logic behind the dashboard's page: words for people, filters, counts over time, highlighted words, CSV checks.

Nothing here imports Streamlit, so all of it is tested directly.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from tweet_triage.api.schemas import ExplainResponse, PredictionOut, WordWeightOut
from tweet_triage.errors import UsageError
from tweet_triage.stream.store.records import PredictionRecord

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


def sureness(confidence: float) -> str:
    """Confidence in words a coordinator reads at a glance."""
    word = "very sure" if confidence >= 0.9 else "fairly sure" if confidence >= 0.7 else "unsure"
    return f"{confidence:.0%} — {word}"


# ---- the feed -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFilter:
    labels: frozenset[str] | None = None  # None: every label
    min_confidence: float = 0.0
    window: timedelta | None = None  # None: everything loaded
    keyword: str = ""
    emergencies_first: bool = True


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
    ]
    kept.sort(key=lambda r: r.order_key, reverse=True)
    if chosen.emergencies_first:
        kept.sort(key=lambda r: not is_emergency(r.label))  # stable: newest first within each group
    return kept


def choose_bucket(span: timedelta) -> timedelta:
    for bucket, up_to in (
        (timedelta(seconds=10), timedelta(minutes=5)),
        (timedelta(minutes=1), timedelta(hours=2)),
        (timedelta(minutes=15), timedelta(days=1)),
    ):
        if span <= up_to:
            return bucket
    return timedelta(hours=1)


def counts_over_time(records: Sequence[PredictionRecord]) -> pd.DataFrame:
    """Tweets per time bucket (rows, oldest first) and label in plain words (columns); empty without records."""
    if not records:
        return pd.DataFrame()
    times = pd.to_datetime([r.scored_at for r in records], utc=True)
    bucket = choose_bucket(times.max() - times.min())
    frame = pd.DataFrame({"time": times.floor(bucket), "label": [plain_label(r.label) for r in records]})
    table = frame.groupby(["time", "label"]).size().unstack(fill_value=0).sort_index()
    table.columns.name = None
    return table


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
