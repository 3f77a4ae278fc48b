"""Before the local stack stops: wait until the worker and the monitor have processed what is in the topics.

:func:`verdict` is the rule (plain, tested with made-up backlogs): a consumer with something pending and nobody in
its group cannot drain, so stopping is refused (unless forced) with what is pending and how to start the consumer;
with members it is waited for. The monitor counts only once it ever committed (or is running): a deployment without
a monitor does not block ``stack down``. :func:`drain` polls :func:`~tweet_triage.broker.backlog.measure` until the
verdict is "drained", a timeout, or a refusal. A group can be empty for a moment while its consumer is running — just
started and not yet joined, or between a leave and a re-join in a rebalance — so a refusal waits until the group has
been empty for its join window (:func:`join_window_s`: the session plus the rebalance timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from tweet_triage.broker.backlog import Backlog, measure, stack_consumers
from tweet_triage.errors import StackError
from tweet_triage.settings import Settings

POLL_S: Final = 1.0


class DrainRefused(StackError):
    """Something is pending in a topic whose consumer is not running (or did not catch up in time)."""


@dataclass(frozen=True)
class Verdict:
    pending: int  # records still to process by running consumers
    stuck: list[Backlog]  # pending with nobody consuming

    @property
    def left(self) -> int:
        """Everything still to process, including what waits for a consumer that may still be joining."""
        return self.pending + sum(b.pending for b in self.stuck)

    @property
    def drained(self) -> bool:
        return self.pending == 0 and not self.stuck


def verdict(backlogs: Sequence[Backlog]) -> Verdict:
    relevant = [b for b in backlogs if b.relevant and b.pending > 0]
    stuck = [b for b in relevant if b.members == 0]
    return Verdict(sum(b.pending for b in relevant if b.members > 0), stuck)


def refusal(stuck: Sequence[Backlog], *, durable: bool) -> str:
    lines = [
        f"{b.pending:,} record(s) in `{b.topic}` not yet processed by the {b.consumer.name} "
        f"(group {b.consumer.group}), and no {b.consumer.name} is running: {b.consumer.start_hint}"
        for b in stuck
    ]
    fate = (
        "the durable broker keeps them, so they are processed once it runs again"
        if durable
        else "the broker keeps topics in memory, so they would be lost"
    )
    return "not stopping: " + "; ".join(lines) + f". With `--force` the stack stops anyway ({fate})."


Progress = Callable[[int, int], None]  # (processed since the start, pending at the start)


def join_window_s(settings: Settings) -> float:
    """How long a running consumer can be missing from its group: joining after start, or re-joining."""
    return settings.kafka.session_timeout_s + settings.kafka.rebalance_timeout_s


def drain(
    settings: Settings,
    *,
    timeout_s: float,
    on_progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    probe: Callable[[], Sequence[Backlog]] | None = None,
) -> int:
    """Wait until nothing is pending; returns how many records were processed meanwhile. Raises DrainRefused.

    ``probe`` measures the backlogs (default: the stack's worker and monitor groups on the broker)."""
    consumers = stack_consumers(settings)
    backlogs = probe or (lambda: asyncio.run(measure(settings, consumers)))
    durable = settings.stack.durable_broker
    deadline = clock() + timeout_s
    first: int | None = None
    stuck_since: float | None = None
    while True:
        current = verdict(backlogs())
        if not current.stuck:
            stuck_since = None
        else:
            stuck_since = clock() if stuck_since is None else stuck_since
            if clock() - stuck_since >= min(join_window_s(settings), timeout_s):
                raise DrainRefused(refusal(current.stuck, durable=durable))
        first = current.left if first is None else max(first, current.left)
        if on_progress is not None:
            on_progress(first - current.left, first)
        if current.drained:
            return first
        if clock() >= deadline and not current.stuck:
            raise DrainRefused(
                f"not drained after {timeout_s:.0f} s: {current.pending:,} record(s) still pending "
                "(is the worker stuck? see `triage stack logs`). Raise TRIAGE_STACK__DRAIN_TIMEOUT_S, or stop "
                "anyway with `--force`."
            )
        sleep(POLL_S)  # polling the group positions until the deadline
