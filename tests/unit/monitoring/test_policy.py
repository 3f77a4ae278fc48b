"""The retraining policy with an injected clock: cooldown, weekly slot, max per day, manual and forced triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tweet_triage.monitoring.retrain.policy import PastRetrain, RetrainPolicy, RetrainTrigger, TriggerKind
from tweet_triage.settings import RetrainSettings

THURSDAY_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = RetrainSettings(cooldown_s=6 * 3600, min_interval_s=3600, max_per_day=3, weekly_day="mon", weekly_hour=3)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def policy(now: datetime = THURSDAY_NOON, settings: RetrainSettings = SETTINGS) -> tuple[RetrainPolicy, Clock]:
    clock = Clock(now)
    return RetrainPolicy(settings, clock), clock


DRIFT, ACCURACY, SCHEDULE, MANUAL = TriggerKind.DRIFT, TriggerKind.ACCURACY, TriggerKind.SCHEDULE, TriggerKind.MANUAL


def trigger(kind: TriggerKind, *, force: bool = False) -> RetrainTrigger:
    return RetrainTrigger(kind, "test", "tests", force=force)


def test_first_drift_trigger_is_allowed() -> None:
    p, _ = policy()
    assert p.decide(trigger(DRIFT), []).allowed


def test_drift_cooldown_blocks_a_second_drift_retraining_until_it_has_passed() -> None:
    p, clock = policy()
    history = [PastRetrain(DRIFT, THURSDAY_NOON - timedelta(hours=2))]
    decision = p.decide(trigger(DRIFT), history)
    assert not decision.allowed
    assert "cooldown" in decision.reason
    clock.now = THURSDAY_NOON + timedelta(hours=4, minutes=1)  # 6 h 1 min after the first
    assert p.decide(trigger(DRIFT), history).allowed


def test_cooldown_is_per_kind_but_min_interval_is_shared() -> None:
    p, _ = policy()
    two_hours_ago = [PastRetrain(DRIFT, THURSDAY_NOON - timedelta(hours=2))]
    assert p.decide(trigger(ACCURACY), two_hours_ago).allowed
    ten_minutes_ago = [PastRetrain(DRIFT, THURSDAY_NOON - timedelta(minutes=10))]
    decision = p.decide(trigger(ACCURACY), ten_minutes_ago)
    assert not decision.allowed
    assert "minimum interval" in decision.reason


def test_max_per_day_counts_every_kind_over_a_rolling_24_hours() -> None:
    p, clock = policy()
    history = [
        PastRetrain(MANUAL, THURSDAY_NOON - timedelta(hours=20)),
        PastRetrain(DRIFT, THURSDAY_NOON - timedelta(hours=12)),
        PastRetrain(ACCURACY, THURSDAY_NOON - timedelta(hours=3)),
    ]
    decision = p.decide(trigger(MANUAL), history)
    assert not decision.allowed
    assert "max 3" in decision.reason
    clock.now = THURSDAY_NOON + timedelta(hours=4, minutes=1)  # the oldest one leaves the window
    assert p.decide(trigger(MANUAL), history).allowed


def test_manual_ignores_the_automatic_cooldown_but_not_the_minimum_interval() -> None:
    p, _ = policy()
    assert p.decide(trigger(MANUAL), [PastRetrain(MANUAL, THURSDAY_NOON - timedelta(hours=2))]).allowed
    assert not p.decide(trigger(MANUAL), [PastRetrain(DRIFT, THURSDAY_NOON - timedelta(minutes=5))]).allowed


def test_force_skips_every_limit() -> None:
    p, _ = policy()
    history = [PastRetrain(DRIFT, THURSDAY_NOON - timedelta(minutes=m)) for m in (1, 2, 3, 4)]
    assert not p.decide(trigger(MANUAL), history).allowed
    assert p.decide(trigger(MANUAL, force=True), history).allowed


def test_switched_off_kinds_are_refused_with_the_variable_to_change() -> None:
    p, _ = policy(settings=SETTINGS.model_copy(update={"on_drift": False}))
    decision = p.decide(trigger(DRIFT), [])
    assert not decision.allowed
    assert "TRIAGE_RETRAIN__ON_DRIFT" in decision.reason


@pytest.mark.parametrize(
    ("now", "slot"),
    [
        (datetime(2026, 11, 26, 12, tzinfo=UTC), datetime(2026, 11, 23, 3, tzinfo=UTC)),  # Thursday -> last Monday
        (datetime(2026, 11, 30, 2, 59, tzinfo=UTC), datetime(2026, 11, 23, 3, tzinfo=UTC)),  # Monday before 03:00
        (datetime(2026, 11, 30, 3, 0, tzinfo=UTC), datetime(2026, 11, 30, 3, tzinfo=UTC)),  # exactly at the slot
    ],
)
def test_last_weekly_slot(now: datetime, slot: datetime) -> None:
    p, _ = policy(now)
    assert p.last_weekly_slot(now) == slot


def test_weekly_trigger_runs_once_per_slot_however_often_the_crontab_fires() -> None:
    monday = datetime(2026, 11, 30, 3, 0, 5, tzinfo=UTC)
    p, clock = policy(monday)
    assert p.decide(trigger(SCHEDULE), []).allowed
    history = [PastRetrain(SCHEDULE, monday)]
    clock.now = monday + timedelta(hours=2)  # a restart re-fires the crontab
    decision = p.decide(trigger(SCHEDULE), history)
    assert not decision.allowed
    assert "already ran" in decision.reason
    clock.now = monday + timedelta(days=7)  # the next Monday
    assert p.decide(trigger(SCHEDULE), history).allowed


def test_weekly_cron_expression_follows_the_settings() -> None:
    p, _ = policy(settings=SETTINGS.model_copy(update={"weekly_day": "sat", "weekly_hour": 22}))
    assert p.weekly_cron() == "0 22 * * sat"
