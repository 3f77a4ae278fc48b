"""The dashboard over the real store and the real API: Streamlit's AppTest, then a real browser (Debian's chromium)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect, sync_playwright
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT, free_port
from tests.integration.serving import Server, ServingEnv, seeded_records, triaged_records
from tweet_triage.clock import utc_now
from tweet_triage.dashboard.backend import LiveBackend
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.feedback_store import FeedbackRecord, FeedbackStore
from tweet_triage.settings import load_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
TWEETS = [
    ("e2e-calm", "What a lovely sunny afternoon at the lake", "not_disaster", 0.91),
    ("e2e-flood", "Flood water rising on Main Street, families trapped on roofs, send boats", "disaster", 0.94),
    ("e2e-fire", "my new mixtape is straight fire", "not_disaster", 0.72),
]


def page(backend: LiveBackend) -> AppTest:
    def script(backend: "Any") -> None:  # noqa: UP037 - the script runs without postponed annotations
        # AppTest runs this function's source on its own, as a script: the import must be inside it.
        from tweet_triage.dashboard.app import render  # noqa: PLC0415

        render(backend)

    return AppTest.from_function(script, args=(backend,), default_timeout=60).run()


# (id, text, location, p(disaster)): a report and its retweet, a place, and tweets near and far from the threshold
TRIAGE_TWEETS = [
    ("e2e-bridge", "Bridge collapsed on the river road, cars in the water", None, 0.97),
    ("e2e-bridge-rt", "RT @citydesk: Bridge collapsed on the river road, cars in the water http://t.co/x1", None, 0.97),
    ("e2e-quake", "Buildings down after the earthquake in Kathmandu, Nepal", None, 0.95),
    ("e2e-smoke", "is that smoke over the hill or just fog?", "Austin, TX", 0.30),
    ("e2e-sirens", "so many sirens tonight, no idea why", None, 0.55),
    ("e2e-calm", "What a lovely sunny afternoon at the lake", None, 0.02),
]


@contextlib.contextmanager
def dashboard_tab(serving: ServingEnv, *, height: int) -> Iterator[Page]:
    """The API and the dashboard started, and a headless Chromium tab open on the dashboard."""
    serving.start_api()
    dashboard = serving.start_dashboard()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": height})
            tab.goto(dashboard.url)
            yield tab
        finally:
            browser.close()


def seed(serving: ServingEnv) -> None:
    version = Registry(serving.settings).get(PRODUCTION).version
    serving.seed(seeded_records(version, TWEETS))


def seed_triage(serving: ServingEnv) -> list[str]:
    """Records as the worker makes them (story ids, places, margins at the model's operating point); the review
    order the queue must give, least certain first."""
    version = Registry(serving.settings).get(PRODUCTION).version
    records = triaged_records(version, TRIAGE_TWEETS, threshold=0.3)
    serving.seed(records)
    unique = {r.story_id: r for r in sorted(records, key=lambda r: r.order_key)}  # the newest copy of each story
    ranked = sorted(unique.values(), key=lambda r: r.order_key, reverse=True)
    return [r.id for r in sorted(ranked, key=lambda r: r.margin or 0.0)]


def test_feed_detail_and_feedback_with_apptest(serving: ServingEnv, api_server: Server) -> None:
    seed(serving)
    app = page(LiveBackend(serving.settings))
    assert not app.exception
    assert any("Flood water rising on Main Street" in e.value for e in app.main.error), "the emergency, in red"
    shown = "\n".join(m.value for m in app.main.markdown)
    assert "lovely sunny afternoon" in shown and "straight fire" in shown
    assert any("is working" in s.value for s in app.sidebar.success), "model version and health from the API"
    assert app.selectbox(key="detail").value == "e2e-flood"
    explained = [c.value for c in app.main.caption]
    assert any("pushed the model" in c or "No single word" in c for c in explained), "the explanation is shown"
    app.button(key="correct").click().run()
    assert "Thank you" in app.main.success[-1].value
    [event] = serving.feedback_events(1)
    assert (event.tweet_id, event.label, event.annotator) == ("e2e-flood", "disaster", "relief coordinator")


def test_open_alerts_from_the_monitor_show_in_the_sidebar(serving: ServingEnv) -> None:
    now = utc_now()
    common = {"created_at": now, "last_seen_at": now, "model_version": "1"}
    with AlertStore.open(serving.settings, create=True) as store:
        store.save(
            Alert(
                id="al-open",
                kind="drift",
                severity="warning",
                title="Language drift in the stream",
                summary="Tweets no longer look like the training data; compare before trusting scores.",
                dedup_key="drift:1",
                **common,
            )
        )
        store.save(
            Alert(
                id="al-acked",
                kind="accuracy",
                severity="critical",
                title="Accuracy fell",
                summary="-",
                dedup_key="accuracy:1",
                status="acked",
                **common,
            )
        )
    app = page(LiveBackend(serving.settings))
    assert not app.exception
    assert "1 open alert" in app.sidebar.error[0].value
    listed = "\n".join(m.value for m in app.sidebar.markdown)
    assert "Language drift in the stream" in listed and "compare before trusting" in listed
    assert "Accuracy fell" not in listed


def test_empty_store_and_unreachable_store_with_apptest(serving: ServingEnv) -> None:
    empty = page(LiveBackend(serving.settings))
    assert not empty.exception
    assert "No tweets have been triaged yet" in empty.main.info[0].value
    closed = free_port()
    unreachable = load_settings(
        stack={**serving.settings.stack.model_dump(), "cosmos_port": closed}, cosmos={"database": "nowhere"}
    )
    down = page(LiveBackend(unreachable))
    assert not down.exception
    assert "The tweet store cannot be reached right now" in down.main.error[0].value


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_a_coordinator_sees_the_tweets_and_sends_a_correction_in_a_real_browser(serving: ServingEnv) -> None:
    seed(serving)
    with dashboard_tab(serving, height=1600) as tab:
        expect(tab.get_by_text("Flood water rising on Main Street").first).to_be_visible(timeout=60_000)
        expect(tab.get_by_text("lovely sunny afternoon").first).to_be_visible()
        expect(tab.get_by_text("is working").first).to_be_visible(timeout=30_000)
        tab.get_by_role("button", name="Wrong — send the right label").click()
        expect(tab.get_by_text("Thank you").first).to_be_visible(timeout=30_000)
        tab.screenshot(path=str(ARTIFACTS / "dashboard-e2e.png"), full_page=True)

        csv = ARTIFACTS / "e2e-upload.csv"
        csv.write_text("id,text\n1,Bridge collapsed after the earthquake\n2,lovely day at the beach\n")
        tab.get_by_text("Check a CSV file").click()
        tab.locator('input[type="file"]').set_input_files(str(csv))
        tab.get_by_role("button", name="Check these tweets").click()
        expect(tab.get_by_role("button", name="Download the results (CSV)")).to_be_visible(timeout=60_000)
        tab.screenshot(path=str(ARTIFACTS / "dashboard-e2e-csv.png"), full_page=True)
    events = serving.feedback_events(1, timeout_s=30)
    assert [(e.tweet_id, e.label) for e in events] == [("e2e-flood", "not_disaster")]
    assert (ARTIFACTS / "dashboard-e2e.png").stat().st_size > 10_000


def test_the_review_queue_over_the_real_store_and_api_leaves_out_labelled_tweets(serving: ServingEnv) -> None:
    order = seed_triage(serving)
    assert order[:2] == ["e2e-sirens", "e2e-smoke"], "closest to a coin toss first"
    serving.start_api()
    backend = LiveBackend(serving.settings)
    assert [r.id for r in backend.review(10)] == order
    with FeedbackStore.open(serving.settings, create=True) as store:
        now = utc_now()
        store.save(FeedbackRecord(tweet_id=order[0], label="not_disaster", annotator="Ana", labelled_at=now,
                                  received_at=now))  # fmt: skip
    assert [r.id for r in backend.review(10)] == order[1:]
    assert [r.id for r in backend.review(2)] == order[1:3]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_a_coordinator_reviews_the_least_certain_sees_stories_once_and_places_on_the_map(serving: ServingEnv) -> None:
    order = seed_triage(serving)
    with dashboard_tab(serving, height=1800) as tab:
        bridge = tab.get_by_text("Bridge collapsed on the river road")
        expect(bridge.first).to_be_visible(timeout=60_000)
        expect(tab.get_by_text("Seen 2 times")).to_have_count(1)
        cards = tab.locator("[data-testid='stAlertContainer']").filter(has_text="Bridge collapsed")
        expect(cards).to_have_count(1)  # the retweet folds into its story: one card, its copies behind a click
        expect(tab.get_by_text("Kathmandu, NP").first).to_be_visible()
        tab.screenshot(path=str(ARTIFACTS / "dashboard-stories.png"), full_page=True)

        tab.get_by_text("Label tweets the model is unsure about").click()
        texts = {tweet_id: text for tweet_id, text, _, _ in TRIAGE_TWEETS}
        for tweet_id in order:  # the page streams its elements in: wait for every one
            expect(tab.get_by_text(texts[tweet_id][:20]).first).to_be_visible(timeout=30_000)
        shown = tab.locator('[data-testid="stMain"] [data-testid="stMarkdownContainer"]').all_inner_texts()
        first_line = [next(n for n, line in enumerate(shown) if texts[i][:20] in line) for i in order]
        assert first_line == sorted(first_line), "closest to a coin toss first, down the page"
        tab.screenshot(path=str(ARTIFACTS / "dashboard-review.png"), full_page=True)
        tab.get_by_role("button", name="Emergency", exact=True).first.click()
        expect(tab.get_by_text("Thank you").first).to_be_visible(timeout=30_000)
        expect(tab.get_by_text(texts[order[0]])).to_have_count(0)

        tab.get_by_text("Where the emergencies are").click()
        expect(tab.locator('[data-testid="stDeckGlJsonChart"]')).to_be_visible(timeout=30_000)
        listed = tab.locator('[data-testid="stDataFrame"]').get_by_text("Kathmandu, NP")
        expect(listed).to_have_count(1)  # the emergency's place, listed beside the map
        tab.wait_for_timeout(1500)  # let deck.gl draw its first frame for the screenshot (not a synchronisation)
        tab.screenshot(path=str(ARTIFACTS / "dashboard-places.png"), full_page=True)
    events = serving.feedback_events(1, timeout_s=30)
    assert [(e.tweet_id, e.label) for e in events] == [(order[0], "disaster")]
