"""The project's exception hierarchy.

Every error that can reach a user derives from :class:`TriageError` and carries a message that says what was wrong
and, where possible, what to do. Entry points (CLI, API, workers) turn them into clean messages, never tracebacks.
"""

from __future__ import annotations


class TriageError(Exception):
    """Root of every error tweet-triage raises on purpose."""

    exit_code: int = 1


class SettingsError(TriageError):
    """The effective configuration is invalid; the message names the environment variable(s)."""

    exit_code = 2


class UsageError(TriageError):
    """A command was called with arguments that cannot work (bad file, missing column, ...)."""

    exit_code = 2


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


class RegistryUnavailable(ModelError):
    """The registry could not be reached or answered with an error: nothing can be concluded about its contents."""


class StoreError(TriageError):
    """The results store (Cosmos DB) could not be reached or refused an operation."""


class CloudError(TriageError):
    """An Azure operation cannot run (no credential, workspace unreachable) or was refused."""


class MonitorError(TriageError):
    """A drift or accuracy monitor cannot be configured, or its saved state does not fit."""


class AlertNotFound(TriageError):
    """No alert has the given id."""
