"""Agents acknowledge only what they handled: held events stay unacknowledged until released, and a failure leaves
the process without acknowledging anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from tweet_triage.broker.faust_app import FAIL_STOP_EXIT_CODE, fail_stop, hold, release


@dataclass
class Message:
    refcount: int = 1  # Faust's own reference, dropped when the agent asks for the next event

    def incref(self) -> None:
        self.refcount += 1


@dataclass
class Event:
    message: Message = field(default_factory=Message)


@dataclass
class Stream:
    acked: list[Event] = field(default_factory=list)

    async def ack(self, event: Event) -> None:
        event.message.refcount -= 1
        self.acked.append(event)


def test_a_held_event_outlives_fausts_own_acknowledgement_until_released() -> None:
    events = [Event(), Event()]
    hold(events)
    for event in events:  # the agent asks for the next batch: Faust drops its reference
        event.message.refcount -= 1
    assert all(e.message.refcount == 1 for e in events)  # still unacknowledged: no commit past them

    stream = Stream()
    asyncio.run(release(stream, events))
    assert stream.acked == events and all(e.message.refcount == 0 for e in events)


def test_a_failure_leaves_the_process_without_acknowledging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def exit_now(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr("tweet_triage.broker.faust_app.os._exit", exit_now)
    with pytest.raises(SystemExit) as exited:
        try:
            raise RuntimeError("the dead-letter topic is gone")
        except RuntimeError:
            fail_stop("the drift monitor")
    assert exited.value.code == FAIL_STOP_EXIT_CODE
    assert "the drift monitor cannot handle its events" in caplog.text and "dead-letter topic is gone" in caplog.text
