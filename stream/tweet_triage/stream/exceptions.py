"""Errors of the stream package. Each carries the data a caller needs to decide what to do next."""

from __future__ import annotations

from dataclasses import dataclass

from tweet_triage.errors import StoreError, TriageError


class InvalidMessage(TriageError):
    """A message on an internal topic (scored, feedback, dead letters) does not match its model."""


class PublishError(TriageError):
    """The producer could not reach the broker / event hub, or some events were not accepted."""


class StoreUnavailable(StoreError):
    """The results store did not accept writes within the caller's retry budget.

    ``retry_after`` is the delay (seconds) the store or the backoff suggests before trying again; a stream worker
    pauses its partitions for about that long instead of skipping the records.
    """

    def __init__(self, message: str, *, retry_after: float, attempts: int, pending: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.attempts = attempts
        self.pending = pending


@dataclass(frozen=True)
class RejectedWrite:
    """One item the store refused for good (not worth retrying): bad request, too large, forbidden, ..."""

    item_id: str
    status: int | None
    message: str


class StoreRejected(StoreError):
    """Some items were refused for good. Every other item of the call was written before this was raised."""

    def __init__(self, rejected: list[RejectedWrite]) -> None:
        first = rejected[0]
        super().__init__(
            f"the store refused {len(rejected)} item(s); first: {first.item_id!r} "
            f"(status {first.status}): {first.message}"
        )
        self.rejected = rejected
