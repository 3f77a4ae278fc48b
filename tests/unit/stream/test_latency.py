"""What "the stream kept up" means, on synthetic latency traces."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from tweet_triage.stream.latency import LatencyReport, arrival


def report(latencies: list[float], *, offered: int | None = None, throughput: float = 200.0) -> LatencyReport:
    return LatencyReport(offered or len(latencies), np.array(latencies), throughput, 200.0)


def test_a_steady_stream_kept_up() -> None:
    steady = report([0.3, 0.4, 0.35, 0.5, 0.45] * 40)
    assert steady.kept_up and steady.verdict() == "kept up"
    assert steady.p50_s == 0.4 and steady.p99_s == 0.5


def test_a_growing_backlog_did_not_keep_up_even_with_a_fine_median() -> None:
    growing = report([0.4] * 180 + [float(s) for s in range(1, 21)])  # the last tenth waited longer and longer
    assert growing.p50_s == 0.4
    assert not growing.kept_up and "last tenth waited" in growing.verdict()


def test_missing_tweets_or_a_low_throughput_did_not_keep_up() -> None:
    assert not report([0.3] * 90, offered=100).kept_up
    assert "10 of 100 not stored" in report([0.3] * 90, offered=100).verdict()
    assert not report([0.3] * 100, throughput=150.0).kept_up  # 150/s stored of 200/s offered


def test_an_arrival_is_the_id_and_publish_time_of_a_scored_event_and_nothing_of_anything_else() -> None:
    event = b'{"id": "t1", "label": "x", "published_at": "2026-12-01T12:00:00.000000Z", "embedding_f16": "AAA="}'
    assert arrival(event) == ("t1", datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert arrival(b'{"id": "t2"}') == ("t2", None)
    for junk in (None, b"", b"not json", b"[1, 2]", b'{"id": "t3", "published_at": "yesterday"}'):
        assert arrival(junk)[1] is None
