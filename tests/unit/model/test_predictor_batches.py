"""How the predictor cuts a micro-batch into the batches it runs: sorted by length, little padding."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tweet_triage.model.predictor import padded_token_chunks


def chunks_of(lengths: list[int], max_tokens: int = 128, max_size: int = 32) -> list[list[int]]:
    order = np.argsort(lengths, kind="stable")
    return [[lengths[i] for i in chunk] for chunk in padded_token_chunks(order, lengths, max_tokens, max_size)]


def test_short_tweets_share_a_batch_and_long_ones_run_in_small_ones() -> None:
    assert chunks_of([10] * 12) == [[10] * 12]
    assert chunks_of([60, 10, 60, 10, 60]) == [[10, 10], [60, 60], [60]]
    assert chunks_of([200, 5]) == [[5], [200]]  # a tweet longer than the budget runs alone


def test_no_batch_is_larger_than_the_size_cap() -> None:
    assert [len(c) for c in chunks_of([1] * 70, max_size=32)] == [32, 32, 6]


@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=200))
def test_every_tweet_once_in_length_order_within_the_budget(lengths: list[int]) -> None:
    chunks = chunks_of(lengths)
    flat = [length for chunk in chunks for length in chunk]
    assert flat == sorted(lengths)
    assert all(len(c) == 1 or len(c) * max(c) <= 128 for c in chunks)
    assert all(1 <= len(c) <= 32 for c in chunks)
