"""The dashboard page in Streamlit's AppTest, over an in-memory backend."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from tests.unit.dashboard.fakes import FakeBackend, record
from tweet_triage.dashboard.alerts import AlertView
from tweet_triage.dashboard.app import CSV, PLACES, REVIEW
from tweet_triage.model.places import Place


def page(backend: FakeBackend) -> AppTest:
    def script(backend: "Any") -> None:  # noqa: UP037 - the script runs without postponed annotations
        # AppTest runs this function's source on its own, as a script: the import must be inside it.
        from tweet_triage.dashboard.app import render  # noqa: PLC0415

        render(backend)

    app = AppTest.from_function(script, args=(backend,), default_timeout=30)
    return app.run()


def seeded() -> FakeBackend:
    return FakeBackend(
        records=[
            record("t-old", "a quiet morning in town", "not_disaster", 0.9, minutes_ago=30),
            record("t-fire", "forest fire near the school, people trapped", "disaster", 0.88, minutes_ago=10),
            record("t-new", "my mixtape is fire", "not_disaster", 0.7, minutes_ago=1),
        ]
    )


def texts(app: AppTest) -> str:
    return "\n".join([e.value for e in app.error] + [m.value for m in app.markdown] + [i.value for i in app.info])


def test_the_feed_shows_emergencies_first_in_red_then_the_newest() -> None:
    app = page(seeded())
    assert not app.exception
    assert app.title[0].value.startswith("🚨 Disaster tweets")
    emergency = [e.value for e in app.error]
    assert any("forest fire near the school" in v and "Emergency" in v for v in emergency)
    feed = [m.value for m in app.markdown if "Not an emergency" in m.value]
    assert feed[0].find("my mixtape") >= 0 and feed[1].find("quiet morning") >= 0
    assert app.metric[0].value == "1" and app.metric[1].value == "3"


def test_filters_narrow_the_feed() -> None:
    app = page(seeded())
    app.text_input(key="keyword").input("mixtape").run()
    assert "my mixtape is fire" in texts(app)
    assert "forest fire near the school" not in texts(app)
    assert app.metric[1].value == "1"


def test_tweet_detail_shows_highlighted_words_and_sends_a_correction() -> None:
    backend = seeded()
    app = page(backend)
    assert app.selectbox(key="detail").value == "t-fire"
    assert any("<span" in m.value and "trapped" in m.value for m in app.markdown)
    assert any("pushed the model towards “Emergency”" in c.value for c in app.caption)
    app.button(key="wrong").click().run()
    [sent] = backend.feedback
    assert (sent.tweet_id, sent.label, sent.model_version, sent.annotator) == (
        "t-fire",
        "not_disaster",
        "7",
        "relief coordinator",
    )
    assert "Thank you" in app.success[-1].value


def test_correct_sends_the_models_own_label_with_the_name_given() -> None:
    backend = seeded()
    app = page(backend)
    app.text_input(key="annotator").input("Ana").run()
    app.selectbox(key="detail").select("t-new").run()
    app.button(key="correct").click().run()
    assert [(f.tweet_id, f.label, f.annotator) for f in backend.feedback] == [("t-new", "not_disaster", "Ana")]


def test_empty_store_says_so_plainly() -> None:
    app = page(FakeBackend())
    assert not app.exception
    assert "No tweets have been triaged yet" in app.main.info[0].value


def test_unreachable_store_is_a_clear_message_not_a_traceback() -> None:
    app = page(FakeBackend(store_down=True))
    assert not app.exception
    assert "The tweet store cannot be reached right now" in app.error[0].value


def test_when_the_api_is_down_tweets_still_show_and_feedback_says_not_sent() -> None:
    backend = seeded()
    backend.api_down = True
    app = page(backend)
    assert not app.exception
    assert any("Scoring service" in w.value for w in app.sidebar.warning)
    assert "forest fire near the school" in texts(app)
    app.button(key="correct").click().run()
    assert "NOT sent" in app.error[-1].value
    assert backend.feedback == []


def test_open_alerts_are_listed() -> None:
    backend = seeded()
    backend.alerts = [AlertView(id="a1", kind="drift", severity="high", title="Language drift in the stream")]
    app = page(backend)
    assert "1 open alert" in app.sidebar.error[0].value
    assert any("Language drift in the stream" in m.value for m in app.sidebar.markdown)


def test_the_csv_page_asks_for_a_file() -> None:
    app = page(seeded())
    app.sidebar.radio(key="page").set_value(CSV).run()
    assert not app.exception
    assert app.title[0].value == "Check a file of tweets"


def test_detail_says_when_no_word_stood_out_and_when_todays_model_disagrees() -> None:
    backend = FakeBackend(records=[record("t-1", "quiet streets tonight", "disaster", 0.6, minutes_ago=1)])
    app = page(backend)
    captions = [c.value for c in app.caption]
    assert any("No single word moved the model much" in c for c in captions)
    assert any("reads this tweet as “Not an emergency”" in c for c in captions)


def test_a_store_being_restored_says_so_and_how_far_it_is() -> None:
    backend = seeded()
    backend.recovery = "restoring the snapshot: predictions 3,000 of 7,613 items"
    app = page(backend)
    assert not app.exception
    warning = app.main.warning[0].value
    assert "being brought back after a restart" in warning and "3,000 of 7,613" in warning
    assert "forest fire near the school" in texts(app)  # what is there already still shows


def test_no_restore_notice_when_the_store_is_ready() -> None:
    app = page(seeded())
    assert not [w for w in app.main.warning if "brought back" in w.value]


def test_a_tweet_in_another_language_is_marked_for_a_human_look() -> None:
    backend = seeded()
    backend.records.append(
        record("t-es", "Necesitamos ayuda, el agua sube", "disaster", 0.6, minutes_ago=2, language="es")
    )
    backend.records[-1] = backend.records[-1].model_copy(update={"out_of_scope": True})
    app = page(backend)
    assert not app.exception
    marked = [v for v in texts(app).split("\n") if "Written in Spanish" in v]
    assert marked and "check this one yourself" in marked[0]
    assert "Written in" not in texts(app).replace(marked[0], "")  # English tweets carry no mark


def test_a_retweet_of_a_stored_tweet_shows_once_with_its_count() -> None:
    backend = FakeBackend(
        records=[
            record("orig", "Bridge down on 5th street", "disaster", 0.9, minutes_ago=20, story_id="s-bridge"),
            record("rt", "RT @a: Bridge down on 5th street", "disaster", 0.9, minutes_ago=1, story_id="s-bridge"),
            record("calm", "lovely day", "not_disaster", 0.9, minutes_ago=5, story_id="s-calm"),
        ]
    )
    app = page(backend)
    assert not app.exception
    emergencies = [e.value for e in app.main.error]
    assert len([e for e in emergencies if "Bridge down on 5th street" in e]) == 1, "the story is shown once"
    assert any("Seen 2 times" in e for e in emergencies)
    assert app.main.metric[0].value == "1", "one emergency report"


def test_the_review_page_lists_the_least_certain_first_and_a_label_sent_there_is_feedback() -> None:
    backend = FakeBackend(
        records=[
            record("clear", "a quiet morning in town", "not_disaster", 0.98, minutes_ago=3, margin=0.96),
            record("torn", "is that smoke over the hill?", "disaster", 0.51, minutes_ago=9, margin=0.02),
            record("close", "sirens all night downtown", "not_disaster", 0.6, minutes_ago=2, margin=0.2),
        ]
    )
    app = page(backend)
    app.sidebar.radio(key="page").set_value(REVIEW).run()
    assert not app.exception
    listed = [m.value for m in app.main.markdown if "sirens" in m.value or "smoke" in m.value or "quiet" in m.value]
    assert [("smoke" in t, "sirens" in t, "quiet" in t) for t in listed] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    app.button(key="review-torn-disaster").click().run()
    assert [(f.tweet_id, f.label) for f in backend.feedback] == [("torn", "disaster")]
    assert "Thank you" in app.main.success[-1].value
    remaining = "\n".join(m.value for m in app.main.markdown)
    assert "smoke over the hill" not in remaining, "a labelled tweet leaves the list"


def test_the_places_page_maps_emergencies_and_offers_exports() -> None:
    nepal = Place(name="Kathmandu", country="NP", kind="city", latitude=27.7, longitude=85.3, source="text")
    backend = FakeBackend(records=[record("q", "Quake in Kathmandu", "disaster", 0.9, minutes_ago=1, place=nepal)])
    app = page(backend)
    app.sidebar.radio(key="page").set_value(PLACES).run()
    assert not app.exception
    assert app.main.dataframe[0].value["Place"].tolist() == ["Kathmandu, NP"]
    assert len(app.main.get("deck_gl_json_chart")) == 1
