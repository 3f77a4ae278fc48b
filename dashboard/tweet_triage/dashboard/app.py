"""The dashboard page (Streamlit): a thin edge over :mod:`.views` and a :class:`.backend.DashboardBackend`.

Written for relief coordinators: plain words ("Emergency", "85% — fairly sure"), emergencies in red and on top,
a clear message when nothing is stored yet or the store cannot be reached, and one click to say "wrong".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import pydeck as pdk
import streamlit as st

from tweet_triage.api.schemas import FeedbackRequest
from tweet_triage.dashboard import views
from tweet_triage.dashboard.api_client import ServiceUnavailable
from tweet_triage.dashboard.backend import DashboardBackend
from tweet_triage.errors import TriageError, UsageError
from tweet_triage.store.records import PredictionRecord

LIVE = "Live tweets"
REVIEW = "Label tweets the model is unsure about"
PLACES = "Where the emergencies are"
CSV = "Check a CSV file"
FEED_SHOWN = 50  # stories listed at once; filters narrow the rest
REVIEW_SHOWN = 10
ANYWHERE = "Anywhere"
EMERGENCY_RED = "#dc2626"
CALM_GREY = "#94a3b8"


@dataclass(frozen=True)
class PageOptions:
    refresh_s: float = 10.0
    feed_limit: int = 500
    csv_max_rows: int = 200


def render(backend: DashboardBackend, options: PageOptions = PageOptions()) -> None:
    st.set_page_config(page_title="Disaster tweet triage", page_icon="🚨", layout="wide")
    page = st.sidebar.radio("Page", [LIVE, REVIEW, PLACES, CSV], key="page")
    st.sidebar.text_input("Your name (sent with corrections)", value="relief coordinator", key="annotator")
    _sidebar_status(backend)
    if page == LIVE:
        # Only this part reruns on the timer: the feed stays live without reloading the page.
        st.fragment(_live_page, run_every=options.refresh_s)(backend, options)
    elif page == REVIEW:
        _review_page(backend)  # no timer: the list must not move under a person's hand
    elif page == PLACES:
        _places_page(backend, options)
    else:
        _csv_page(backend, options)


# ---- sidebar ----------------------------------------------------------------------------------------------------


def _sidebar_status(backend: DashboardBackend) -> None:
    st.sidebar.divider()
    st.sidebar.subheader("System")
    status = backend.model_status()
    if status.ok and status.info is not None:
        st.sidebar.success(f"Model v{status.info.version} is working")
        f1 = status.info.metrics.get("f1")
        if f1 is not None:
            st.sidebar.caption(f"Quality on tweets it was not trained on: F1 {f1:.2f} (1.00 would be perfect).")
        caption = views.operating_point_caption(status.info.tags)
        if caption:
            st.sidebar.caption(caption)
    else:
        st.sidebar.warning(f"Scoring service: {status.message}. Tweets still show; explanations and corrections wait.")
    try:
        alerts = backend.open_alerts()
    except TriageError as exc:
        st.sidebar.info(f"Alerts cannot be read right now ({exc}).")
        return
    if not alerts:
        st.sidebar.info("No open alerts.")
        return
    st.sidebar.error(f"{len(alerts)} open alert{'s' if len(alerts) > 1 else ''}")
    for alert in alerts[:10]:
        when = alert.created_at.strftime("%d %b %H:%M") if alert.created_at else ""
        st.sidebar.markdown(
            f"**{alert.severity.upper()}** · {alert.title}  \n{alert.summary}  \n:small[{when} · {alert.kind}]"
        )


# ---- live page --------------------------------------------------------------------------------------------------


def _live_page(backend: DashboardBackend, options: PageOptions) -> None:
    st.title("🚨 Disaster tweets — live triage")
    st.caption(
        "Each tweet is read by the model: **Emergency** means it is probably about a real disaster. "
        f"Newest first; refreshes every {options.refresh_s:.0f} s. Click a tweet below the list to see why, "
        "and tell us when the model is wrong."
    )
    records = _load(backend, options)
    if records is None:
        return
    chosen = _filters(records)
    shown = views.apply_filter(records, chosen, now=datetime.now(UTC))
    stories = views.fold_stories(shown)
    _summary(records, shown, stories)
    _chart(shown)
    _feed(stories)
    _detail(backend, [story.lead for story in stories])


def _load(backend: DashboardBackend, options: PageOptions) -> list[PredictionRecord] | None:
    """The newest stored predictions, or None after telling the reader why there are none to show."""
    recovery = backend.store_recovery()
    if recovery is not None:
        st.warning(
            "**The tweet store is being brought back after a restart** — some tweets and corrections may be missing "
            f"until it finishes; this page catches up by itself. ({recovery})"
        )
    try:
        records = backend.recent(options.feed_limit)
    except TriageError as exc:
        st.error(
            "**The tweet store cannot be reached right now**, so no tweets can be shown. "
            "This page tries again by itself; if it lasts, tell the technical team.\n\n"
            f"Details: {exc}"
        )
        return None
    if not records:
        st.info(
            "**No tweets have been triaged yet.** They appear here as soon as the stream worker stores them — "
            "nothing to do on your side."
        )
        return None
    return records


def _filters(records: list[PredictionRecord]) -> views.FeedFilter:
    with st.expander("Filter the tweets", expanded=False):
        left, middle, right = st.columns(3)
        labels = sorted({r.label for r in records}, key=lambda label: not views.is_emergency(label))
        picked = left.multiselect("Show", labels, default=labels, format_func=views.plain_label, key="labels")
        confidence = middle.slider("At least this sure", 0.0, 1.0, 0.0, 0.05, key="min_confidence")
        window = right.selectbox("Time", list(views.TIME_WINDOWS), index=3, key="window")
        keyword = left.text_input("Words in the tweet or place", key="keyword")
        first = middle.checkbox("Emergencies at the top", value=True, key="emergencies_first")
        place = right.selectbox("Place", [ANYWHERE, *views.place_choices(records)], key="place")
    return views.FeedFilter(
        labels=frozenset(picked),
        min_confidence=confidence,
        window=views.TIME_WINDOWS[window],
        keyword=keyword,
        emergencies_first=first,
        place=None if place == ANYWHERE else place,
    )


def _summary(records: list[PredictionRecord], shown: list[PredictionRecord], stories: list[views.Story]) -> None:
    emergencies = sum(views.is_emergency(story.lead.label) for story in stories)
    a, b, c = st.columns(3)
    a.metric("Emergency reports shown", emergencies, help="Retweets and copies of one report count once")
    b.metric("Tweets shown", len(shown), help=f"of the {len(records)} newest tweets loaded")
    c.metric("Newest tweet", records[0].scored_at.strftime("%H:%M:%S UTC") if records else "—")


def _chart(shown: list[PredictionRecord]) -> None:
    table, axis = views.counts_over_time(shown)
    if table.empty:
        return
    st.subheader("Tweets over time")
    long = table.reset_index().melt("time", var_name="label", value_name="tweets")
    labels = list(table.columns)
    colours = [EMERGENCY_RED if label == views.plain_label(views.EMERGENCY_LABEL) else CALM_GREY for label in labels]
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X(
                "time:O",
                sort=None,
                title=f"UTC, one bar per {_duration(axis.bucket)}",
                axis=alt.Axis(labelAngle=0, labelOverlap=True),
            ),
            y=alt.Y("tweets:Q", title="Tweets", stack=True, axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("label:N", title=None, scale=alt.Scale(domain=labels, range=colours)),
            tooltip=[alt.Tooltip("time:O", title="From"), "label:N", "tweets:Q"],
        )
        .properties(height=220)
    )
    st.altair_chart(chart, use_container_width=True)


def _duration(bucket: timedelta) -> str:
    seconds = int(bucket.total_seconds())
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return "second" if seconds == 1 else f"{seconds} seconds"


def _feed(stories: list[views.Story]) -> None:
    st.subheader("Tweets")
    if not stories:
        st.info("No tweet matches these filters.")
        return
    for story in stories[:FEED_SHOWN]:
        record = story.lead
        meta = " · ".join(
            part
            for part in (
                record.scored_at.strftime("%d %b %H:%M:%S"),
                f"📍 {views.escape_markdown(record.place.label)}" if record.place else None,
                views.escape_markdown(record.location) if record.location and not record.place else None,
                views.escape_markdown(f"#{record.keyword}") if record.keyword else None,
                f"model v{record.model_version}",
            )
            if part
        )
        text = views.escape_markdown(record.text)
        line = f"**{views.plain_label(record.label)}** ({views.sureness(record.confidence)})  \n{text}"
        if record.out_of_scope:
            line = f"{views.OUT_OF_SCOPE_NOTE.format(language=views.language_name(record.language))}  \n{line}"
        seen = views.seen_line(story)
        if seen:
            meta = f"{meta}  \n🔁 {seen}"
        box = st.container(border=not views.is_emergency(record.label))
        if views.is_emergency(record.label):
            box.error(f"🚨 {line}  \n:small[{meta}]")
        else:
            box.markdown(f"{line}  \n:small[{meta}]")
        if story.count > 1:
            with box.expander(f"Show all {story.count} copies"):
                for copy in story.copies:
                    st.markdown(
                        f":small[{copy.scored_at.strftime('%d %b %H:%M:%S')}] {views.escape_markdown(copy.text)}"
                    )
    if len(stories) > FEED_SHOWN:
        st.caption(f"{len(stories) - FEED_SHOWN} more match; narrow the filters to see them.")
    st.caption(views.confidence_legend())


def _detail(backend: DashboardBackend, shown: list[PredictionRecord]) -> None:
    st.subheader("Look closer and correct")
    by_id = {r.id: r for r in shown[:FEED_SHOWN]}
    if not by_id:
        return
    tweet_id = st.selectbox(
        "Tweet",
        list(by_id),
        format_func=lambda i: f"{views.plain_label(by_id[i].label)} · {by_id[i].text[:90]}",
        key="detail",
    )
    record = by_id[tweet_id]
    st.markdown(f"**{views.plain_label(record.label)}** — {views.sureness(record.confidence)}")
    try:
        explanation = backend.explain(record.text, record.keyword)
    except ServiceUnavailable as exc:
        st.warning(f"No explanation right now: {exc}")
    else:
        st.markdown(views.highlight_html(record.text, explanation.words), unsafe_allow_html=True)
        if views.any_notable(explanation.words):
            st.caption(
                f"Red words pushed the model towards “{views.plain_label(explanation.label)}”, blue words against "
                f"it (model v{explanation.model_version})."
            )
        else:
            st.caption("No single word moved the model much: it read the tweet as a whole.")
        if explanation.label != record.label:
            st.caption(
                f"Note: the model serving now (v{explanation.model_version}) reads this tweet as "
                f"“{views.plain_label(explanation.label)}”; the label above is from v{record.model_version}."
            )
    labels = sorted(record.probabilities, key=lambda label: not views.is_emergency(label))
    left, right = st.columns(2)
    if left.button("✅ Correct", key="correct", use_container_width=True):
        _send(backend, record, record.label)
    others = [label for label in labels if label != record.label] or labels
    right_label = right.selectbox("The right label is", others, format_func=views.plain_label, key="right_label")
    if right.button("❌ Wrong — send the right label", key="wrong", use_container_width=True):
        _send(backend, record, right_label)


def _send(backend: DashboardBackend, record: PredictionRecord, label: str) -> None:
    try:
        _feedback(backend, record, label)
    except ServiceUnavailable as exc:
        st.error(f"Your answer was NOT sent: {exc}. Please try again in a moment.")
        return
    st.success(f"Thank you — recorded “{views.plain_label(label)}” for this tweet.")


def _feedback(backend: DashboardBackend, record: PredictionRecord, label: str) -> None:
    """Send a person's label as feedback, under the name given in the sidebar."""
    annotator = str(st.session_state.get("annotator") or "").strip() or "relief coordinator"
    backend.send_feedback(
        FeedbackRequest(
            tweet_id=record.id, label=label, annotator=annotator, model_version=record.model_version, comment=None
        )
    )


# ---- review page ------------------------------------------------------------------------------------------------


def _review_page(backend: DashboardBackend) -> None:
    st.title("Label the tweets the model is least sure about")
    st.caption(
        "The model finds these tweets hardest: it is closest to a coin toss between “Emergency” and “Not an "
        "emergency”. Newest first among equals. "
        "Your answer on them teaches the model most at its next retraining. Tweets already labelled and copies of "
        "a listed report are left out."
    )
    outcome = st.session_state.pop("review_outcome", None)
    if outcome is not None:
        sent, message = outcome
        (st.success if sent else st.error)(message)
    try:
        queue = backend.review(REVIEW_SHOWN + len(_labelled_here()))
    except ServiceUnavailable as exc:
        st.error(f"The list cannot be loaded right now: {exc}")
        return
    waiting = [r for r in queue if r.id not in _labelled_here()][:REVIEW_SHOWN]
    if not waiting:
        st.info("**Nothing to label right now.** Every recent tweet is either clear to the model or labelled.")
        return
    for record in waiting:
        box = st.container(border=True)
        emergency = record.probabilities.get(views.EMERGENCY_LABEL)
        torn = f"{emergency:.0%} likely an emergency" if emergency is not None else views.sureness(record.confidence)
        meta = " · ".join(
            part
            for part in (
                record.scored_at.strftime("%d %b %H:%M:%S"),
                f"📍 {views.escape_markdown(record.place.label)}" if record.place else None,
                f"now shown as **{views.plain_label(record.label)}**",
            )
            if part
        )
        box.markdown(f"{views.escape_markdown(record.text)}  \n:small[{torn} · {meta}]")
        labels = sorted(record.probabilities, key=lambda label: not views.is_emergency(label))
        for column, label in zip(box.columns(len(labels)), labels, strict=True):
            column.button(
                views.plain_label(label),
                key=f"review-{record.id}-{label}",
                use_container_width=True,
                on_click=_label_from_queue,  # before the rerun draws the list, so a labelled tweet leaves it
                args=(backend, record, label),
            )


def _label_from_queue(backend: DashboardBackend, record: PredictionRecord, label: str) -> None:
    try:
        _feedback(backend, record, label)
    except ServiceUnavailable as exc:
        st.session_state["review_outcome"] = (False, f"Your answer was NOT sent: {exc}. Please try again.")
        return
    _labelled_here().add(record.id)
    st.session_state["review_outcome"] = (True, f"Thank you — recorded “{views.plain_label(label)}” for this tweet.")


def _labelled_here() -> set[str]:
    """Tweets labelled in this browser session (the feedback store may not have them yet)."""
    labelled: set[str] = st.session_state.setdefault("labelled_here", set())
    return labelled


# ---- places page ------------------------------------------------------------------------------------------------


def _places_page(backend: DashboardBackend, options: PageOptions) -> None:
    st.title("Where the emergencies are")
    st.caption(
        "Places named in the tweets, or else in the writer's profile, found with an offline list of cities, states "
        "and countries. A dot's size is how many emergency tweets name the place. Places smaller than 15,000 people "
        "and streets are not found; about 1 in 7 places found is wrong, so check before sending a team."
    )
    records = _load(backend, options)
    if records is None:
        return
    rows = views.emergency_places(records)
    if not rows:
        st.info("No emergency tweet names a place yet.")
    else:
        frame = pd.DataFrame(
            {
                "place": [r.label for r in rows],
                "emergencies": [r.emergencies for r in rows],
                "latitude": [r.latitude for r in rows],
                "longitude": [r.longitude for r in rows],
                "last": [r.last_seen.strftime("%d %b %H:%M") for r in rows],
            }
        )
        frame["radius"] = 20_000 + 15_000 * frame["emergencies"].pow(0.5)
        layer = pdk.Layer(
            "ScatterplotLayer",
            frame,
            get_position="[longitude, latitude]",
            get_radius="radius",
            get_fill_color=[220, 38, 38, 170],
            radius_min_pixels=5,
            pickable=True,
        )
        names = pdk.Layer(  # the names keep the map readable where its background tiles cannot load (offline)
            "TextLayer",
            frame,
            get_position="[longitude, latitude]",
            get_text="place",
            get_size=14,
            get_color=[51, 65, 85],
            get_pixel_offset=[0, -14],
        )
        view = pdk.ViewState(
            latitude=float(frame["latitude"].mean()), longitude=float(frame["longitude"].mean()), zoom=1.5
        )
        st.pydeck_chart(
            pdk.Deck(
                layers=[layer, names], initial_view_state=view, tooltip={"text": "{place}: {emergencies} emergencies"}
            ),
            height=420,
        )
        st.dataframe(
            frame[["place", "emergencies", "last"]].rename(
                columns={"place": "Place", "emergencies": "Emergency tweets", "last": "Latest"}
            ),
            hide_index=True,
            use_container_width=True,
        )
    emergencies = [r for r in records if views.is_emergency(r.label)]
    left, right = st.columns(2)
    left.download_button(
        "Download emergencies with places (GeoJSON)",
        json.dumps(views.to_geojson(emergencies), ensure_ascii=False).encode("utf-8"),
        file_name="emergencies.geojson",
        mime="application/geo+json",
    )
    right.download_button(
        "Download all loaded tweets (CSV)",
        views.to_csv(records),
        file_name="tweets.csv",
        mime="text/csv",
    )


# ---- CSV page ---------------------------------------------------------------------------------------------------


def _csv_page(backend: DashboardBackend, options: PageOptions) -> None:
    st.title("Check a file of tweets")
    st.caption(
        "Upload a CSV file with one tweet per row (a column named “text”, or pick one). Each tweet gets a label, "
        f"how sure the model is, and the words that weighed most. At most {options.csv_max_rows} rows are checked."
    )
    upload = st.file_uploader("CSV file", type=["csv"], key="csv")
    if upload is None:
        return
    try:
        frame = views.read_csv(upload.getvalue())
    except UsageError as exc:
        st.error(str(exc))
        return
    columns = list(frame.columns)
    guess = views.guess_text_column(columns)
    column = st.selectbox("Column with the tweet text", columns, index=columns.index(guess) if guess else 0)
    texts = [str(value) for value in frame[column]]
    if len(texts) > options.csv_max_rows:
        st.warning(f"The file has {len(texts)} rows; only the first {options.csv_max_rows} are checked.")
        texts = texts[: options.csv_max_rows]
    explain = st.checkbox("Explain each tweet (slower)", value=True)
    if st.button("Check these tweets", type="primary"):
        bar = st.progress(0.0)

        def progress(fraction: float) -> None:
            bar.progress(fraction)

        try:
            st.session_state["csv_result"] = views.check_texts(
                texts,
                predict=backend.predict,
                explain=(lambda text: backend.explain(text, None)) if explain else None,
                on_progress=progress,
            )
        except ServiceUnavailable as exc:
            st.error(f"The file could not be checked: {exc}")
            return
    result = st.session_state.get("csv_result")
    if result is not None:
        st.dataframe(result, use_container_width=True, hide_index=True)
        st.download_button(
            "Download the results (CSV)",
            result.to_csv(index=False).encode("utf-8"),
            file_name="triaged.csv",
            mime="text/csv",
        )
