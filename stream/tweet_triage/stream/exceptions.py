"""Errors of the stream package. Each carries the data a caller needs to decide what to do next."""

from __future__ import annotations

from dataclasses import dataclass

from tweet_triage.errors import StoreError, TriageError


class InvalidMessage(TriageError):
    """A message on an internal topic (scored, feedback, dead letters) does not match its model."""


class PublishError(TriageError):
    """The producer could not reach the broker / event hub, or some events were not accepted."""


class StoreOutage(StoreError):
    """The store as a whole cannot serve now: unreachable, the key or the firewall refused (401/403), the database or
    a container is missing (404, ``schema_missing``), throttled (429), timed out (408) or failing (5xx).

    Never the fault of one item: callers wait and retry (re-creating the schema first when it is missing) and never
    dead-letter anything for it. ``retry_after`` is the store's own hint in seconds, if it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        schema_missing: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.schema_missing = schema_missing
        self.retry_after = retry_after


class StoreUnavailable(StoreOutage):
    """The results store did not accept writes within the caller's retry budget.

    ``retry_after`` is the delay (seconds) the store or the backoff suggests before trying again; a stream worker
    pauses its partitions for about that long instead of skipping the records.
    """

    retry_after: float  # always known here: the backoff's next wait at least

    def __init__(self, message: str, *, retry_after: float, attempts: int, pending: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.attempts = attempts
        self.pending = pending


class ItemRefused(StoreError):
    """The store refused one item for good (invalid document, too large, bad partition key): that item's fault, so
    the message it came from is dead-lettered and the stream goes on."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status


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
