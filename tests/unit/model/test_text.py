from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tweet_triage.model.text import model_input, normalize_keyword, normalize_tweet


def test_urls_and_mentions_become_placeholders() -> None:
    text = "@FEMA help! water rising https://t.co/AbC123 see www.example.org/x now"
    assert normalize_tweet(text) == "@user help! water rising http see http now"


def test_html_entities_and_this_datasets_mojibake_are_repaired() -> None:
    assert normalize_tweet("Fire &amp;amp; smoke\x89Û_ it\x89Ûªs bad") == "Fire & smoke... it's bad"
    assert normalize_tweet("Caf\u00c3\u00a9 flooded") == "Café flooded"  # classic UTF-8-as-Latin-1, fixed by ftfy


def test_whitespace_is_collapsed() -> None:
    assert normalize_tweet("  help \n\n needed\t now ") == "help needed now"


def test_keywords_are_url_decoded_and_optional() -> None:
    assert normalize_keyword("forest%20fire") == "forest fire"
    assert normalize_keyword(None) == ""
    assert model_input("Smoke everywhere", "forest%20fire", use_keyword=True) == "forest fire: Smoke everywhere"
    assert model_input("Smoke everywhere", "forest%20fire", use_keyword=False) == "Smoke everywhere"
    assert model_input("Smoke everywhere", None, use_keyword=True) == "Smoke everywhere"


@given(st.text(max_size=200))
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize_tweet(text)
    assert normalize_tweet(once) == once
