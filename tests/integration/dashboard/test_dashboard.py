"""The dashboard over the real store and the real API: Streamlit's AppTest, then a real browser (Debian's chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT, free_port
from tests.integration.serving import Server, ServingEnv, seeded_records
from tweet_triage.dashboard.backend import LiveBackend
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.settings import load_settings

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
        from tweet_triage.dashboard.app import render

        render(backend)

    return AppTest.from_function(script, args=(backend,), default_timeout=60).run()


def seed(serving: ServingEnv) -> None:
    version = Registry(serving.settings).get(PRODUCTION).version
    serving.seed(seeded_records(version, TWEETS))


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
    from tweet_triage.monitoring.alerts.records import Alert
    from tweet_triage.monitoring.alerts.store import AlertStore
    from tweet_triage.stream.timestamps import utc_now

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
    from playwright.sync_api import expect, sync_playwright

    seed(serving)
    serving.start_api()
    dashboard = serving.start_dashboard()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1600})
            tab.goto(dashboard.url)
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
        finally:
            browser.close()
    events = serving.feedback_events(1, timeout_s=30)
    assert [(e.tweet_id, e.label) for e in events] == [("e2e-flood", "not_disaster")]
    assert (ARTIFACTS / "dashboard-e2e.png").stat().st_size > 10_000
