"""When a retraining may start: one policy object for drift, accuracy, the weekly schedule and people.

Rules, in order (all limits from :class:`~tweet_triage.settings.RetrainSettings`):

1. a trigger kind switched off in the settings is refused (``manual`` cannot be switched off);
2. ``force`` (a person's explicit override, recorded with the request) skips the limits below;
3. at most ``max_per_day`` retrainings in any 24 hours, whatever started them;
4. at least ``min_interval`` between any two retrainings (also for people: a retraining is probably still running);
5. automatic kinds (drift, accuracy) at most once per ``cooldown`` each;
6. the weekly schedule runs once per weekly slot (``weekly_day`` at ``weekly_hour`` UTC), however often the crontab
   fires (a restart at the slot, two monitor replicas).

The clock is injected; the history of accepted requests is passed in, so the policy itself is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from tweet_triage.clock import utc_now
from tweet_triage.settings import RetrainSettings, env_name


class TriggerKind(StrEnum):
    """What asked for a retraining."""

    DRIFT = "drift"  # a drift incident opened
    ACCURACY = "accuracy"  # rolling accuracy on feedback fell below the threshold
    SCHEDULE = "schedule"  # the weekly slot
    MANUAL = "manual"  # a person (`triage retrain`)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SWITCHES: Final = {TriggerKind.DRIFT: "on_drift", TriggerKind.ACCURACY: "on_accuracy", TriggerKind.SCHEDULE: "weekly"}
_AUTOMATIC: Final = (TriggerKind.DRIFT, TriggerKind.ACCURACY)


@dataclass(frozen=True)
class RetrainTrigger:
    """A call for a retraining: the policy decides on it, and an accepted one is recorded in the request."""

    kind: TriggerKind
    reason: str
    requested_by: str
    force: bool = False


@dataclass(frozen=True)
class PastRetrain:
    kind: TriggerKind
    at: datetime


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


class RetrainPolicy:
    def __init__(self, settings: RetrainSettings, clock: Callable[[], datetime] = utc_now) -> None:
        self._settings = settings
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def decide(self, trigger: RetrainTrigger, history: Sequence[PastRetrain]) -> Decision:
        s = self._settings
        now = self._clock()
        switch = _SWITCHES.get(trigger.kind)
        if switch is not None and not getattr(s, switch):
            return Decision(False, f"{trigger.kind} retraining is switched off ({env_name(('retrain', switch))})")
        if trigger.force:
            return Decision(True, "forced by a person; limits skipped")
        last_day = [p for p in history if now - p.at < timedelta(days=1)]
        if len(last_day) >= s.max_per_day:
            return Decision(False, f"already {len(last_day)} retrainings in the last 24 h (max {s.max_per_day})")
        latest = max(history, key=lambda p: p.at, default=None)
        if latest is not None and (now - latest.at).total_seconds() < s.min_interval_s:
            return Decision(
                False,
                f"the last retraining ({latest.kind}) started {_ago(now - latest.at)} ago; minimum interval "
                f"is {_ago(timedelta(seconds=s.min_interval_s))}",
            )
        if trigger.kind in _AUTOMATIC:
            same = [p for p in history if p.kind == trigger.kind]
            last_same = max(same, key=lambda p: p.at, default=None)
            if last_same is not None and (now - last_same.at).total_seconds() < s.cooldown_s:
                return Decision(
                    False,
                    f"a {trigger.kind} retraining started {_ago(now - last_same.at)} ago (cooldown "
                    f"{_ago(timedelta(seconds=s.cooldown_s))})",
                )
        if trigger.kind == TriggerKind.SCHEDULE:
            slot = self.last_weekly_slot(now)
            if any(p.kind == TriggerKind.SCHEDULE and p.at >= slot for p in history):
                return Decision(False, f"the weekly retraining of {slot:%Y-%m-%d %H:%M} UTC already ran")
        return Decision(True, "within the retraining policy")

    # ---- the weekly slot ----------------------------------------------------------------------------------------

    def weekly_cron(self) -> str:
        """Crontab expression of the weekly slot (minute hour day-of-month month day-of-week), in UTC."""
        return f"0 {self._settings.weekly_hour} * * {self._settings.weekly_day}"

    def last_weekly_slot(self, now: datetime) -> datetime:
        """The most recent weekly slot at or before ``now``."""
        now = now.astimezone(UTC)
        weekday = _WEEKDAYS.index(self._settings.weekly_day)
        slot = now.replace(hour=self._settings.weekly_hour, minute=0, second=0, microsecond=0)
        slot -= timedelta(days=(now.weekday() - weekday) % 7)
        return slot if slot <= now else slot - timedelta(days=7)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
