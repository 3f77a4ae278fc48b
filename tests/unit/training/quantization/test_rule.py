"""The quantization rule on synthetic study tables: what is eligible, what is chosen, what ships beside it."""

from __future__ import annotations

import pytest

from tweet_triage.training.quantization.rule import Measurement, NoEligibleGraph, QuantizationRule, select

RULE = QuantizationRule()


def row(
    name: str,
    speed: float,
    *,
    portable: bool = False,
    f1_drop: float = 0.0,
    agreement: float = 1.0,
    invariance: float = 0.0,
    error: str | None = None,
) -> Measurement:
    return Measurement(
        name=name,
        portable=portable,
        tweets_per_second={1: speed / 3, 32: speed},
        f1=0.8 - f1_drop,
        f1_drop=f1_drop,
        label_agreement=agreement,
        max_difference=0.01,
        batch_invariance=invariance,
        error=error,
    )


def test_the_fastest_eligible_graph_is_chosen_and_slower_or_broken_ones_are_not() -> None:
    table = [
        row("fp32", 400, portable=True),
        row("dynamic", 1100, invariance=0.15),  # fastest, but a tweet's score depends on its batch-mates
        row("static", 900, f1_drop=0.03, agreement=0.95),
        row("per-token", 800),
        row("nbits", 350),
    ]
    selection = select(table, RULE)
    assert selection.chosen == "per-token"
    assert selection.eligible == ["per-token", "fp32", "nbits"]
    assert "batch invariance" in selection.reasons["dynamic"][0]
    assert any("label agreement" in why for why in selection.reasons["static"])


@pytest.mark.parametrize(
    ("field", "value", "eligible"),
    [
        ("invariance", 1e-4, True),
        ("invariance", 1.1e-4, False),
        ("f1_drop", 0.005, True),
        ("f1_drop", 0.0051, False),
        ("f1_drop", -0.02, True),  # better than fp32 is fine
        ("agreement", 0.99, True),
        ("agreement", 0.9899, False),
    ],
)
def test_each_limit_is_inclusive_at_its_bound(field: str, value: float, eligible: bool) -> None:
    candidate = row("int8", 900, **{field: value})  # type: ignore[arg-type]
    selection = select([row("fp32", 400, portable=True), candidate], RULE)
    assert (selection.chosen == "int8") is eligible


def test_a_portable_graph_ships_beside_a_chosen_one_that_is_not() -> None:
    table = [row("fp32", 400, portable=True), row("per-token", 900), row("per-token-rr", 850, portable=True)]
    assert select(table, RULE).shipped == ["per-token", "per-token-rr"]
    portable_first = [row("fp32", 400, portable=True), row("per-token-rr", 950, portable=True), row("per-token", 900)]
    assert select(portable_first, RULE).shipped == ["per-token-rr"]


def test_speed_is_compared_at_the_serving_batch_size() -> None:
    fast_alone = Measurement("a", False, {1: 900.0, 32: 300.0}, 0.8, 0.0, 1.0, 0.0, 0.0)
    fast_batched = Measurement("b", False, {1: 200.0, 32: 700.0}, 0.8, 0.0, 1.0, 0.0, 0.0)
    assert select([fast_alone, fast_batched], RULE).chosen == "b"
    assert select([fast_alone, fast_batched], QuantizationRule(speed_batch_size=1)).chosen == "a"


def test_nothing_eligible_is_an_error_naming_every_reason() -> None:
    with pytest.raises(NoEligibleGraph, match=r"dynamic: batch invariance.*broken: failed: Segfault"):
        select([row("dynamic", 900, invariance=0.2), row("broken", 0, error="Segfault")], RULE)


def test_an_unmeasured_candidate_is_never_eligible() -> None:
    unmeasured = Measurement("ghost", True)
    assert RULE.failures(unmeasured)  # no accuracy, no invariance, no speed
    assert select([unmeasured, row("fp32", 10, portable=True)], RULE).chosen == "fp32"
