"""Sending until the broker acknowledges: which broker errors pause, which refuse one message, which are bugs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import errors

from tweet_triage.broker.sending import classify_send, send_all
from tweet_triage.errors import PublishError
from tweet_triage.store.retry import Backoff, RetryNotice, RetryPolicy


@pytest.mark.parametrize(
    "error",
    [
        errors.MessageSizeTooLargeError(),
        errors.RecordTooLargeError(),
        errors.RecordListTooLargeError(),
        errors.CorruptRecordException(),
    ],
)
def test_errors_about_one_message_refuse_that_message(error: Exception) -> None:
    assert classify_send(error).scope == "item"


@pytest.mark.parametrize(
    "error",
    [
        errors.KafkaConnectionError(),
        errors.KafkaTimeoutError(),
        errors.NotLeaderForPartitionError(),
        errors.UnknownTopicOrPartitionError(),
        errors.TopicAuthorizationFailedError(),  # like a rotated Cosmos key: pause, never dead-letter
        ConnectionResetError(),
    ],
)
def test_errors_about_the_broker_pause_and_retry(error: Exception) -> None:
    assert classify_send(error).scope == "service"


@pytest.mark.parametrize("error", [errors.ProducerClosed(), TypeError("bug"), AssertionError("no key, no value")])
def test_other_errors_are_unexplained(error: Exception) -> None:
    assert classify_send(error).scope == "unexplained"


class Broker:
    """Fails messages on cue: ``script[n]`` is the list of outcomes for the n-th call."""

    def __init__(self, script: list[list[BaseException | None]]) -> None:
        self.script = script
        self.received: list[list[str]] = []

    async def send_many(self, topic: str, messages: Sequence[str]) -> list[BaseException | None]:
        self.received.append(list(messages))
        return self.script.pop(0) if self.script else [None] * len(messages)


def test_only_failed_messages_are_sent_again_and_refused_ones_come_back() -> None:
    down, big = errors.KafkaTimeoutError(), errors.MessageSizeTooLargeError()
    broker = Broker([[None, down, big, down], [None, down], [None]])
    waits: list[float] = []
    notices: list[RetryNotice] = []
    recovered: list[str] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy.forever(
        backoff=Backoff(initial_s=1, max_s=10), on_retry=notices.append, on_recovered=recovered.append
    )
    refused = asyncio.run(send_all(broker, "t", ["a", "b", "c", "d"], policy=policy, sleep=sleep, rand=lambda: 1.0))
    assert refused == {2: big}
    assert broker.received == [["a", "b", "c", "d"], ["b", "d"], ["d"]]
    assert waits == [1, 2] and [n.pending for n in notices] == [2, 1]
    assert recovered == ["send to t"]


def test_a_bounded_policy_gives_up_with_a_publish_error() -> None:
    broker = Broker([[errors.KafkaConnectionError()]] * 5)

    async def sleep(seconds: float) -> None:
        return None

    with pytest.raises(PublishError, match="not acknowledged after 3"):
        asyncio.run(send_all(broker, "t", ["a"], policy=RetryPolicy(max_attempts=3), sleep=sleep))


def test_an_unexplained_error_propagates() -> None:
    with pytest.raises(TypeError):
        asyncio.run(send_all(Broker([[TypeError("bug")]]), "t", ["a"], policy=RetryPolicy.forever()))
