"""Story ids: retweets and near-copies of one report share one; different reports do not."""

from __future__ import annotations

import pytest

from tweet_triage.stream.stories import story_id, story_key

REPORT = "Flood water rising on Main St, families trapped on roofs"


@pytest.mark.parametrize(
    "copy",
    [
        f"RT @riverwatch: {REPORT}",
        f"RT @a: RT @b: {REPORT}",
        f"{REPORT} http://t.co/abc123",
        f"{REPORT}! https://t.co/other via @CNN",
        f"{REPORT} #flood #help",
        f"  {REPORT.upper()}  ",
    ],
)
def test_retweets_and_copies_with_other_links_handles_tags_or_case_share_the_story(copy: str) -> None:
    assert story_id(copy) == story_id(REPORT)


@pytest.mark.parametrize(
    "other",
    [
        "Flood water rising on Elm St, families trapped on roofs",
        "Flood water rising on Main St",
        "#flood #help",
        f"{REPORT} again, two more houses",
    ],
)
def test_a_different_report_is_a_different_story(other: str) -> None:
    assert story_id(other) != story_id(REPORT)


def test_hashtags_inside_the_sentence_are_words_and_a_link_alone_is_its_own_story() -> None:
    assert story_key("Evacuate #Paradise now") == "evacuate paradise now"
    assert story_id("http://t.co/a") != story_id("http://t.co/b"), "nothing of its own to share"
    assert story_id("x").startswith("s-") and len(story_id("x")) == 18
