"""The host self-check: the fastest graph that reproduces its recorded outputs serves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tweet_triage.errors import ModelError
from tweet_triage.model.self_check import TOLERANCE, Logits, choose_graph

PROBE = [[101, 7, 102], [101, 8, 9, 102]]
RECORDED = np.array([[2.0, -1.0], [0.5, 0.4]], np.float32)


class FakeGraph:
    """Returns fixed logits and advances a fake clock by ``cost`` per call."""

    def __init__(self, clock: list[float], cost: float, logits: Logits, fail: bool = False) -> None:
        self.clock, self.cost, self.logits, self.fail = clock, cost, logits, fail

    def __call__(self, token_ids: Sequence[list[int]]) -> Logits:
        if self.fail:
            raise RuntimeError("kernel not supported")
        self.clock[0] += self.cost
        return self.logits


def test_the_fastest_graph_that_reproduces_its_outputs_wins() -> None:
    clock = [0.0]
    saturating = RECORDED + np.array([[0.0, 0.0], [0.0, 0.3]], np.float32)  # an int8 kernel that overflows here
    runners = {
        "per-token": FakeGraph(clock, 0.010, saturating),
        "per-token-rr": FakeGraph(clock, 0.012, RECORDED),
        "fp32": FakeGraph(clock, 0.030, RECORDED),
    }
    recorded = dict.fromkeys(runners, RECORDED)
    choice = choose_graph(runners, PROBE, recorded, clock=lambda: clock[0])
    assert choice.chosen == "per-token-rr"
    by_name = {t.graph: t for t in choice.trials}
    assert not by_name["per-token"].reproduces and (by_name["per-token"].max_difference or 0.0) > TOLERANCE
    assert by_name["fp32"].tweets_per_second == pytest.approx(len(PROBE) / 0.030)
    assert "differs from its recorded outputs" in choice.summary()


def test_a_graph_that_fails_to_run_is_reported_and_skipped() -> None:
    clock = [0.0]
    runners = {"broken": FakeGraph(clock, 0.001, RECORDED, fail=True), "fp32": FakeGraph(clock, 0.03, RECORDED)}
    choice = choose_graph(runners, PROBE, {"broken": RECORDED, "fp32": RECORDED}, clock=lambda: clock[0])
    assert choice.chosen == "fp32"
    assert "kernel not supported" in (choice.trials[0].error or "")


def test_no_graph_that_reproduces_its_outputs_is_an_error() -> None:
    clock = [0.0]
    runners = {"per-token": FakeGraph(clock, 0.01, RECORDED * 3.0)}  # a constant shift would not change p
    with pytest.raises(ModelError, match="reproduces its recorded outputs"):
        choose_graph(runners, PROBE, {"per-token": RECORDED}, clock=lambda: clock[0])
