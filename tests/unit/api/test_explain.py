from __future__ import annotations

import pytest

from tests.unit.api.fakes import WordScorer
from tweet_triage.api.explain import explain, without, words_of


def test_words_keep_their_offsets() -> None:
    text = "Forest  fire near\tLa Ronge"
    assert [(w, text[s:e]) for w, s, e in words_of(text)] == [(w, w) for w in ["Forest", "fire", "near", "La", "Ronge"]]


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [("a fire here", 2, 6, "a here"), ("fire here", 0, 4, " here"), ("a fire", 2, 6, "a ")],
)
def test_removing_a_word_leaves_no_double_gap(text: str, start: int, end: int, expected: str) -> None:
    assert without(text, start, end) == expected


def test_alarm_words_get_the_weight_they_add_and_others_none() -> None:
    scorer = WordScorer()
    result = explain(scorer, "people trapped by the flood")
    assert result.label == "disaster"
    assert result.confidence == pytest.approx(0.65)
    weights = {w.word: w.weight for w in result.words}
    assert weights["trapped"] == pytest.approx(0.25)
    assert weights["flood"] == pytest.approx(0.3)
    assert weights["people"] == pytest.approx(0.0)
    assert scorer.calls == [6], "the tweet and its five variants are scored in one batch"


def test_weights_are_relative_to_the_predicted_label() -> None:
    result = explain(WordScorer(), "a lovely calm day, no fire")
    assert result.label == "not_disaster"
    assert {w.word: w.weight for w in result.words}["fire"] == pytest.approx(-0.3, abs=1e-6)


def test_only_the_first_words_are_explained_when_there_are_many() -> None:
    scorer = WordScorer()
    result = explain(scorer, " ".join(["word"] * 50), max_words=10)
    assert len(result.words) == 10
    assert scorer.calls == [11]
