"""The drift detectors see one scored tweet in N, chosen by its id: the same tweets in every process and run."""

from __future__ import annotations

from tweet_triage.monitoring.drift.monitor import in_sample


def test_every_tweet_is_seen_when_n_is_one() -> None:
    assert all(in_sample(f"t{i}", 1) for i in range(100))


def test_about_one_tweet_in_n_is_seen_and_always_the_same_ones() -> None:
    ids = [f"{1_600_000_000_000 + i * 7919}" for i in range(10_000)]
    chosen = [i for i in ids if in_sample(i, 2)]
    assert 4_700 < len(chosen) < 5_300
    assert chosen == [i for i in ids if in_sample(i, 2)]
    assert in_sample("1628457210193338368", 4) == in_sample("1628457210193338368", 4)
