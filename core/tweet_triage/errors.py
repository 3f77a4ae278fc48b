"""The project's exception hierarchy.

Every error that can reach a user derives from :class:`TriageError` and carries a message that says what was wrong
and, where possible, what to do. Entry points (CLI, API, workers) turn them into clean messages, never tracebacks.
Each class has a :class:`ErrorKind` saying what the error means to whoever called; the API answers with the status
of the kind (see ``tweet_triage.api.app``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """What an error means to the caller, whatever raised it."""

    USAGE = "usage"  # the caller's input or configuration cannot work: change it, then call again
    NOT_FOUND = "not_found"  # the thing asked for does not exist
    UNAVAILABLE = "unavailable"  # a service the call needs cannot serve now: the same call may work later
    FAILED = "failed"  # the operation failed for another reason; calling again will not help


class TriageError(Exception):
    """Root of every error tweet-triage raises on purpose."""

    exit_code: int = 1
    kind: ClassVar[ErrorKind] = ErrorKind.FAILED
    retry_after: float | None = None  # for UNAVAILABLE: the service's own hint of when to try again, in seconds


class SettingsError(TriageError):
    """The effective configuration is invalid; the message names the environment variable(s)."""

    exit_code = 2
    kind = ErrorKind.USAGE


class UsageError(TriageError):
    """A command was called with arguments that cannot work (bad file, missing column, ...)."""

    exit_code = 2
    kind = ErrorKind.USAGE


class StackError(TriageError):
    """A local service could not be installed, started, checked or stopped."""


class PortInUseError(StackError):
    """A port the local stack needs is held by a process the stack did not start."""


class DataError(TriageError):
    """A dataset is missing, corrupt or does not match the expected schema."""


class ModelError(TriageError):
    """A model version is missing, invalid, or cannot be promoted."""


class ModelNotFound(ModelError):
    """The registry answered: no such model, version or alias."""

    kind = ErrorKind.NOT_FOUND


class RegistryUnavailable(ModelError):
    """The registry could not be reached or answered with an error: nothing can be concluded about its contents."""

    kind = ErrorKind.UNAVAILABLE


class StoreError(TriageError):
    """The results store (Cosmos DB) could not be reached or refused an operation."""


class CloudError(TriageError):
    """An Azure operation cannot run (no credential, workspace unreachable) or was refused."""


class MonitorError(TriageError):
    """A drift or accuracy monitor cannot be configured, or its saved state does not fit."""


class AlertNotFound(TriageError):
    """No alert has the given id."""

    kind = ErrorKind.NOT_FOUND


class InvalidMessage(TriageError):
    """A message on an internal topic (scored, feedback, dead letters) does not match its model."""

    kind = ErrorKind.USAGE


class PublishError(TriageError):
    """The producer could not reach the broker / event hub, or some events were not accepted."""

    kind = ErrorKind.UNAVAILABLE


class StoreOutage(StoreError):
    """The store as a whole cannot serve now: unreachable, the key or the firewall refused (401/403), the database or
    a container is missing (404, ``schema_missing``), throttled (429), timed out (408) or failing (5xx).

    Never the fault of one item: callers wait and retry (re-creating the schema first when it is missing) and never
    dead-letter anything for it. ``retry_after`` is the store's own hint in seconds, if it gave one.
    """

    kind = ErrorKind.UNAVAILABLE

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


class ContainerMissing(StoreOutage):
    """The database or a container does not exist (HTTP 404; always ``schema_missing``). To a reader it means nothing
    was stored there yet; a writer re-creates the schema (the local server loses it when it restarts) and retries."""

    def __init__(self, message: str, *, status: int | None = 404, retry_after: float | None = None) -> None:
        super().__init__(message, status=status, schema_missing=True, retry_after=retry_after)


class StoreUnavailable(StoreOutage):
    """The results store did not accept writes within the caller's retry budget."""

    def __init__(self, message: str, *, attempts: int, pending: int) -> None:
        super().__init__(message)
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
