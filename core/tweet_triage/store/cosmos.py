"""Cosmos DB clients built from the settings, the containers the system uses, and clear errors when it is away.

Locally the ``@vercel/cosmosdb-server`` speaks plain HTTP and has no regions, so endpoint discovery is switched off
for ``http://`` endpoints; a real account (``https://``) keeps the SDK defaults. The key comes only from settings.
"""

from __future__ import annotations

import binascii
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from azure.cosmos import CosmosClient, PartitionKey
from azure.cosmos.aio import CosmosClient as AsyncCosmosClient

from tweet_triage.errors import ContainerMissing, ItemRefused, StoreError, StoreOutage, TriageError
from tweet_triage.settings import CosmosSettings, Settings, env_name, local_stack_hint
from tweet_triage.store.retry import Failure, classify

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy, DatabaseProxy
    from azure.cosmos.aio import DatabaseProxy as AsyncDatabaseProxy

log = logging.getLogger(__name__)

PREDICTIONS: Final = "predictions"
FEEDBACK: Final = "feedback"
ALERTS: Final = "alerts"
SHADOW: Final = "shadow"


@dataclass(frozen=True)
class ContainerSpec:
    role: str
    name: str
    partition_key: str


def container_specs(cosmos: CosmosSettings) -> dict[str, ContainerSpec]:
    """The containers by role; names from the settings, partition keys fixed (see the package docstring)."""
    return {
        PREDICTIONS: ContainerSpec(PREDICTIONS, cosmos.predictions_container, "/id"),
        FEEDBACK: ContainerSpec(FEEDBACK, cosmos.feedback_container, "/tweet_id"),
        ALERTS: ContainerSpec(ALERTS, cosmos.alerts_container, "/id"),
        SHADOW: ContainerSpec(SHADOW, cosmos.shadow_container, "/tweet_id"),
    }


class _ClosedClientNoise(logging.Filter):
    """azure-cosmos refreshes endpoint health in a background thread; when a short-lived client is closed while it
    runs, the SDK logs "Health check task failed: HTTP transport has already been closed" at ERROR with a traceback,
    although nothing failed (the SDK swallows it). Keep that out of people's terminals; every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Health check task failed") and "already been closed" in message)


logging.getLogger("azure.cosmos._global_endpoint_manager").addFilter(_ClosedClientNoise())

# azure-cosmos 4.17 can raise "OrderedDict mutated during iteration" while copying a query page's response headers
# (seen once in CI, reading a container another process was writing); the query itself did not fail.
_SDK_HEADER_RACE: Final = "mutated during iteration"
_QUERY_ATTEMPTS: Final = 3


def client_options(
    settings: Settings, *, connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0
) -> dict[str, Any]:
    options: dict[str, Any] = {"connection_timeout": connect_timeout_s, "read_timeout": read_timeout_s}
    if settings.cosmos_endpoint.startswith("http://"):
        options["enable_endpoint_discovery"] = False
    return options


def open_client(settings: Settings, **options: float) -> CosmosClient:
    """A synchronous client (the constructor already talks to the account: errors surface here)."""
    with translate_errors(settings):
        return CosmosClient(
            settings.cosmos_endpoint,
            credential=settings.cosmos.key.get_secret_value(),
            **client_options(settings, **options),
        )


def async_client(settings: Settings, **options: float) -> AsyncCosmosClient:
    """An asynchronous client; use it as ``async with`` (nothing is sent before that)."""
    return AsyncCosmosClient(
        settings.cosmos_endpoint,
        credential=settings.cosmos.key.get_secret_value(),
        **client_options(settings, **options),
    )


def ensure_schema(client: CosmosClient, settings: Settings) -> DatabaseProxy:
    """Create the database and the four containers if missing (idempotent)."""
    with translate_errors(settings):
        database = client.create_database_if_not_exists(settings.cosmos.database)
        for spec in container_specs(settings.cosmos).values():
            database.create_container_if_not_exists(spec.name, partition_key=PartitionKey(path=spec.partition_key))
    return database


async def ensure_schema_async(client: AsyncCosmosClient, settings: Settings) -> AsyncDatabaseProxy:
    """Async twin of :func:`ensure_schema` (errors are left to the caller's retry policy)."""
    database = await client.create_database_if_not_exists(settings.cosmos.database)
    for spec in container_specs(settings.cosmos).values():
        await database.create_container_if_not_exists(spec.name, partition_key=PartitionKey(path=spec.partition_key))
    return database


def recreate_schema(settings: Settings) -> None:
    """Create the database and containers again (after the store lost them), on a client of its own. Proxies opened
    before keep working: they address containers by name."""
    client = open_client(settings)
    try:
        ensure_schema(client, settings)
    finally:
        client.close()


@contextmanager
def open_container(settings: Settings, role: str, *, create: bool = False) -> Iterator[ContainerProxy]:
    """One container by role, on a client closed afterwards; with ``create`` the schema is ensured first."""
    client = open_client(settings)
    try:
        database = ensure_schema(client, settings) if create else client.get_database_client(settings.cosmos.database)
        yield database.get_container_client(container_specs(settings.cosmos)[role].name)
    finally:
        client.close()


def query(
    container: ContainerProxy,
    settings: Settings,
    text: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    partition_key: str | None = None,
) -> list[Any]:
    """Run a parameterised query (cross-partition unless a partition key is given), errors translated."""
    params = [{"name": name, "value": value} for name, value in (parameters or {}).items()]
    options: dict[str, Any] = (
        {"partition_key": partition_key} if partition_key is not None else {"enable_cross_partition_query": True}
    )
    for attempt in range(1, _QUERY_ATTEMPTS + 1):
        try:
            with translate_errors(settings, container=container.id):
                return list(container.query_items(text, parameters=params, **options))
        except RuntimeError as exc:  # a query is a read: sent again when the SDK trips over its own headers
            if _SDK_HEADER_RACE not in str(exc) or attempt == _QUERY_ATTEMPTS:
                raise
            log.warning("query on %s sent again after an error inside the Cosmos DB SDK: %s", container.id, exc)
    raise AssertionError("unreachable")


@contextmanager
def translate_errors(settings: Settings, *, container: str | None = None) -> Iterator[None]:
    """Turn the SDK's errors into StoreErrors that say what to do, sorted by :func:`~.retry.classify`:
    :class:`StoreOutage` when the store as a whole cannot serve (callers wait and retry) — :class:`ContainerMissing`
    when that is because the database or the container does not exist —, :class:`ItemRefused` when it refused one
    item (callers dead-letter it). Unexplained errors (bugs) pass through unchanged. Code outside this package sees
    only these, never the SDK's exception types."""
    try:
        yield
    except TriageError:
        raise
    except Exception as exc:
        failure = classify(exc)
        if failure.scope == "unexplained":
            raise
        raise _translated(exc, failure, settings, container) from exc


def _translated(error: Exception, failure: Failure, settings: Settings, container: str | None) -> StoreError:
    endpoint = settings.cosmos_endpoint
    status = failure.status
    if failure.scope == "item":
        refusal = f"Cosmos DB at {endpoint} refused the item (HTTP {status}): {_first_line(error)}"
        return ItemRefused(refusal, status=status)
    if failure.schema_missing:
        where = f"container {container!r} in " if container else ""
        missing = (
            f"no {where}database {settings.cosmos.database!r} at {endpoint} — nothing stored yet (is the worker "
            f"running?) or {env_name(('cosmos', 'database'))} names another database"
        )
        return ContainerMissing(missing, status=status, retry_after=failure.retry_after)
    if isinstance(error, binascii.Error):
        message = f"{env_name(('cosmos', 'key'))} is not a base64 Cosmos DB account key"
    elif status is None:
        hint = local_stack_hint(settings)
        message = f"cannot reach Cosmos DB at {endpoint}: {_first_line(error)}.{hint}"
    elif status in (401, 403):
        message = (
            f"Cosmos DB at {endpoint} refused the key (HTTP {status}); check {env_name(('cosmos', 'key'))} and the "
            "account's network rules"
        )
    else:
        message = f"Cosmos DB at {endpoint} answered HTTP {status}: {_first_line(error)}; try again later"
    return StoreOutage(message, status=status, retry_after=failure.retry_after)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__
