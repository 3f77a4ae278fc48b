"""Sending to the broker until it acknowledges: a broker that is away pauses the caller; a message the broker refuses
for itself is handed back, so the caller can dead-letter it instead of stopping the stream.

:func:`classify_send` is the rule. Refused for itself: the message or its batch is too large, or corrupt
(``MessageSizeTooLarge``, ``RecordTooLarge``, ``RecordListTooLarge``, ``CorruptRecord``). Every other Kafka error —
connection lost, timeouts, no leader, unknown topic, authorisation refused — is about the broker as a whole and is
retried with the policy's backoff (forever for the stream worker). Errors that are not Kafka's are bugs and propagate.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from aiokafka import errors

from tweet_triage.errors import PublishError
from tweet_triage.retry import Attempts, Failure, Random, RetryPolicy, Sleep, describe

M = TypeVar("M")
M_contra = TypeVar("M_contra", contravariant=True)


@dataclass(frozen=True)
class OutboundMessage:
    """A message with headers (the stream's own messages are plain ``(key, value)`` pairs)."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class Sender(Protocol[M_contra]):
    async def send_many(self, topic: str, messages: Sequence[M_contra]) -> Sequence[BaseException | None]:
        """Send every message; one outcome per message (None: acknowledged by the broker), never raising for one."""


def classify_send(error: BaseException) -> Failure:
    """Whose fault a failed send is: the message's (``item``), the broker's as a whole (``service``), or a bug."""
    if isinstance(
        error,
        errors.MessageSizeTooLargeError
        | errors.RecordTooLargeError
        | errors.RecordListTooLargeError
        | errors.CorruptRecordException,
    ):
        return Failure("item")
    if isinstance(error, errors.ProducerClosed):
        return Failure("unexplained")  # our own producer was closed under us: a failure of the process
    if isinstance(error, errors.KafkaError | TimeoutError | ConnectionError):
        return Failure("service")
    return Failure("unexplained")


async def send_all(
    sender: Sender[M],
    topic: str,
    messages: Sequence[M],
    *,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
) -> dict[int, BaseException]:
    """Send ``messages`` until the broker acknowledged each one or refused it for itself.

    Returns {index: error} of the messages refused for themselves. Messages that failed for a broker-wide reason are
    sent again after a backoff (only they); with ``RetryPolicy.forever`` that goes on until the broker answers.
    Raises an unexplained error as is, and :class:`~tweet_triage.errors.PublishError` when a bounded
    policy is spent.
    """
    what = f"send to {topic}"
    pending = list(range(len(messages)))
    refused: dict[int, BaseException] = {}
    attempts = Attempts(policy, what, rand=rand)
    while pending:
        outcomes = await sender.send_many(topic, [messages[i] for i in pending])
        retry: list[int] = []
        first: tuple[BaseException, Failure] | None = None
        for index, outcome in zip(pending, outcomes, strict=True):
            if outcome is None:
                continue
            failure = classify_send(outcome)
            if failure.scope == "unexplained":
                raise outcome
            if failure.scope == "item":
                refused[index] = outcome
            else:
                retry.append(index)
                first = first or (outcome, failure)
        if first is None:
            break
        delay = attempts.failed(*first, pending=len(retry))
        if delay is None:
            raise PublishError(
                f"{what}: {len(retry)} message(s) not acknowledged after {attempts.count} attempt(s): "
                f"{describe(first[0])}"
            ) from first[0]
        await sleep(delay)
        pending = retry
    attempts.succeeded()
    return refused
