"""Idempotent, retried, bounded-concurrency upserts with the async Cosmos DB client (the stream worker's write path).

A call writes a batch in rounds: every pending item is upserted (at most ``concurrency`` in flight, each bounded by
``request_timeout_s``); items that failed for a store-wide reason (:func:`~tweet_triage.store.retry.classify`:
unreachable, 401/403, 404, 429, 5xx, ...) stay pending, and after a backoff the next round retries only them — after
a 404 the database and containers are re-created first (``repair``), since a write can only get 404 when they are
gone. Items refused for good are collected and raised together as
:class:`~tweet_triage.errors.StoreRejected` once every other item is written, so the caller can
dead-letter exactly those. An unexplained error counts as one item's fault only when other items of the call were
written; when nothing was, it is raised as is (the caller stops rather than dead-letter a batch for a bug). Upserts
keyed by the tweet id make every retry and every duplicate delivery harmless.

A refusal is the item's fault only if the store is otherwise fine: when *every* item of a round is refused with the
same status (a proxy, an API-version or a permission problem answers 400 to every write), the writer reads the
container (``probe``); if that fails too, the refusals are the store's, and the round is retried with backoff like
any store-wide failure — the stream pauses, nothing is dead-lettered. If the read works, the items are at fault.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tweet_triage.errors import RejectedWrite, StoreRejected, StoreUnavailable
from tweet_triage.retry import Attempts, Random, RetryPolicy, Sleep, describe
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import PREDICTIONS, async_client, container_specs, ensure_schema_async
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.rest_upsert import RestUpserter, open_session
from tweet_triage.store.retry import Failure, call_with_retries, classify

if TYPE_CHECKING:
    from azure.cosmos.aio import CosmosClient as AsyncCosmosClient

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 32
DEFAULT_REQUEST_TIMEOUT_S = 10.0


class AsyncItemUpserter(Protocol):
    """The one method of ``azure.cosmos.aio.ContainerProxy`` the writer needs (fakes implement it in tests)."""

    def upsert_item(self, body: dict[str, Any], **kwargs: Any) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class WriteReport:
    written: int
    rounds: int
    waited_s: float


class PredictionSink(Protocol):
    """The write side of the predictions store: :class:`PredictionWriter`, or an in-memory twin in tests."""

    async def write(self, records: Iterable[PredictionRecord]) -> WriteReport: ...


async def upsert_predictions(
    container: AsyncItemUpserter,
    records: Iterable[PredictionRecord],
    *,
    policy: RetryPolicy,
    concurrency: int = DEFAULT_CONCURRENCY,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
) -> WriteReport:
    """Upsert prediction records (id = tweet id = partition key). See :func:`upsert_items`."""
    return await upsert_items(
        container,
        (record.to_item() for record in records),
        policy=policy,
        concurrency=concurrency,
        request_timeout_s=request_timeout_s,
        sleep=sleep,
        rand=rand,
        what="upsert predictions",
    )


async def upsert_items(
    container: AsyncItemUpserter,
    items: Iterable[Mapping[str, Any]],
    *,
    policy: RetryPolicy,
    concurrency: int = DEFAULT_CONCURRENCY,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
    what: str = "upsert items",
    repair: Callable[[], Awaitable[object]] | None = None,
    probe: Callable[[], Awaitable[object]] | None = None,
) -> WriteReport:
    """Upsert every item; returns once all are written, or raises.

    Raises :class:`StoreUnavailable` when ``policy.max_attempts`` rounds failed (never with ``RetryPolicy.forever``)
    and :class:`StoreRejected` for items refused for good. Within one call the last item with a given id wins.
    ``repair`` re-creates the database and containers; it runs before the round after a 404. ``probe`` reads the
    container, to tell a store that refuses every write from items at fault (see the module docstring).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    pending = {str(item["id"]): dict(item) for item in items}
    total = len(pending)
    tally = _Tally()
    gate = asyncio.Semaphore(concurrency)
    attempts = Attempts(policy, what, rand=rand)
    rounds = 0
    waited = 0.0

    async def write(body: dict[str, Any]) -> Exception | None:
        async with gate:
            try:
                async with asyncio.timeout(request_timeout_s):
                    await container.upsert_item(body)
            except Exception as exc:
                return exc
            return None

    while pending:
        rounds += 1
        bodies = list(pending.values())
        refused_before, written_before = len(tally.rejected), tally.written
        retry = tally.add(bodies, await asyncio.gather(*(write(body) for body in bodies)))
        refused_now = tally.rejected[refused_before:]
        if probe is not None and tally.written == written_before and len(refused_now) == len(bodies):
            systemic = await _refused_by_the_store(refused_now, probe, what)
            if systemic is not None:  # not the items' fault: retried like any store-wide failure
                del tally.rejected[refused_before:]
                retry.bodies.update(pending)
                retry.first = retry.first or (systemic, Failure("service", refused_now[0].status))
        pending = retry.bodies
        if retry.first is None:
            break
        error, failure = retry.first
        delay = attempts.failed(error, failure, pending=len(pending), retry_after=retry.hint)
        if delay is None:
            raise StoreUnavailable(
                f"{what}: {len(pending)} of {total} item(s) not written after {rounds} attempt(s): {error}",
                attempts=rounds,
                pending=len(pending),
            ) from error
        await sleep(delay)
        waited += delay
        if repair is not None and retry.schema_missing:
            await _repair(repair, what)
    if tally.written:
        attempts.succeeded()
    tally.raise_refusals()
    log.debug("%s: %d item(s) in %d round(s), waited %.2f s", what, total, rounds, waited)
    return WriteReport(written=total, rounds=rounds, waited_s=waited)


@dataclass
class _Retry:
    """The items of one round to write again (store-wide failures), the first such failure and the store's hint."""

    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    first: tuple[Exception, Failure] | None = None
    hint: float | None = None
    schema_missing: bool = False


@dataclass
class _Tally:
    """What one call's rounds came to: written, refused items, unexplained failures."""

    written: int = 0
    rejected: list[RejectedWrite] = field(default_factory=list)
    unexplained: list[tuple[str, Exception]] = field(default_factory=list)

    def add(self, bodies: list[dict[str, Any]], outcomes: list[Exception | None]) -> _Retry:
        retry = _Retry()
        for body, outcome in zip(bodies, outcomes, strict=True):
            item_id = str(body["id"])
            if outcome is None:
                self.written += 1
                continue
            failure = classify(outcome)
            if failure.scope == "item":
                self.rejected.append(RejectedWrite(item_id, failure.status, describe(outcome)))
            elif failure.scope == "unexplained":
                self.unexplained.append((item_id, outcome))
            else:
                retry.bodies[item_id] = body
                if retry.first is None or (failure.schema_missing and not retry.first[1].schema_missing):
                    retry.first = (outcome, failure)  # the round's cause: a missing schema says more than a drop
                retry.schema_missing = retry.schema_missing or failure.schema_missing
                if failure.retry_after is not None:
                    retry.hint = max(retry.hint or 0.0, failure.retry_after)
        return retry

    def raise_refusals(self) -> None:
        """Items refused for themselves; an unexplained failure is an item's fault only if others went through."""
        if self.unexplained and not self.written:
            raise self.unexplained[0][1]  # nothing went through: not the data's fault, so nothing is dead-lettered
        refused = self.rejected + [RejectedWrite(item_id, None, describe(e)) for item_id, e in self.unexplained]
        if refused:
            raise StoreRejected(refused)


class SystemicRefusal(Exception):
    """The store refused every item of a round with one status, and a read of the container as well."""


async def _refused_by_the_store(
    refused: list[RejectedWrite], probe: Callable[[], Awaitable[object]], what: str
) -> SystemicRefusal | None:
    """Whether refusals that hit every item of a round with one status are the store's: it refuses a read too."""
    statuses = {r.status for r in refused}
    if len(statuses) != 1:
        return None
    try:
        await probe()
    except Exception as exc:
        status = statuses.pop()
        message = (
            f"{what}: the store refused all {len(refused)} item(s) of a round with status {status} "
            f"({refused[0].message}) and a read of the container too ({describe(exc)}): a store-wide problem "
            f"(a proxy, the API version, permissions), not the items'; retrying"
        )
        log.warning("%s", message)
        return SystemicRefusal(message)
    return None


async def _repair(repair: Callable[[], Awaitable[object]], what: str) -> None:
    """Re-create the schema after a 404; a store that is still away is retried by the next round, not raised."""
    try:
        await repair()
    except Exception as exc:
        if not classify(exc).service_wide:
            raise
        log.warning("%s: could not re-create the database and containers yet: %s", what, describe(exc))
    else:
        log.warning("%s: the database or a container was missing; re-created them", what)


class PredictionWriter:
    """The worker's handle on the ``predictions`` container: one async client, schema ensured, retried writes.

    ``await writer.open()`` before the first write and ``await writer.close()`` after the last, or
    ``async with PredictionWriter(settings, policy=RetryPolicy.forever(on_retry=...)) as writer``, which does both.
    Opening retries with the same policy, so a worker started before Cosmos DB is reachable waits instead of crashing.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        policy: RetryPolicy,
        concurrency: int = DEFAULT_CONCURRENCY,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
        sleep: Sleep = asyncio.sleep,
        role: str = PREDICTIONS,
        to_item: Callable[[PredictionRecord], Mapping[str, Any]] = PredictionRecord.to_item,
    ) -> None:
        """``role``/``to_item``: the container and item shape (the shadow scorer writes to ``shadow``)."""
        self._settings = settings
        self._role = role
        self._to_item = to_item
        self._policy = policy
        self._concurrency = concurrency
        self._timeout = request_timeout_s
        self._sleep = sleep
        self._resources: AsyncExitStack | None = None  # closes the session, then the client
        self._client: AsyncCosmosClient | None = None
        self._container: AsyncItemUpserter | None = None

    async def open(self) -> PredictionWriter:
        """Connect and ensure the database and containers (retried with the writer's policy); with the ``rest`` write
        path, open the session the upserts go through."""
        if self._resources is not None:
            raise RuntimeError("PredictionWriter is already open")
        spec = container_specs(self._settings.cosmos)[self._role]
        resources, client, container = await call_with_retries(
            lambda: self._connect(spec.name), policy=self._policy, what="open the results store", sleep=self._sleep
        )
        async with resources:  # closes the client again if what follows fails
            if self._settings.cosmos.write_path == "rest":  # the SDK keeps the schema; upserts take the lean path
                session = open_session(concurrency=self._concurrency, timeout_s=self._timeout)
                resources.push_async_callback(session.close)
                container = RestUpserter(
                    session,
                    endpoint=self._settings.cosmos_endpoint,
                    key=self._settings.cosmos.key.get_secret_value(),
                    database=self._settings.cosmos.database,
                    container=spec.name,
                    partition_key=spec.partition_key,
                )
            self._resources = resources.pop_all()
        self._client, self._container = client, container
        return self

    async def close(self) -> None:
        """Close the session and the client; closing a writer that is not open does nothing."""
        resources, self._resources = self._resources, None
        self._client = self._container = None
        if resources is not None:
            await resources.aclose()

    async def __aenter__(self) -> PredictionWriter:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connect(self, container: str) -> tuple[AsyncExitStack, AsyncCosmosClient, AsyncItemUpserter]:
        """One attempt to open: a new client, opened, the schema ensured; the client is closed again if it fails."""
        client = async_client(self._settings)
        async with AsyncExitStack() as attempt:
            # The SDK leaves a client whose opening failed half-way with its transport open; close() is idempotent.
            attempt.push_async_callback(client.close)
            async with asyncio.timeout(self._timeout * 3):
                await attempt.enter_async_context(client)
                database = await ensure_schema_async(client, self._settings)
            return attempt.pop_all(), client, database.get_container_client(container)

    async def write(self, records: Iterable[PredictionRecord]) -> WriteReport:
        if self._container is None:
            raise RuntimeError("PredictionWriter is not open; call open() first or use it with `async with`")
        return await upsert_items(
            self._container,
            (self._to_item(record) for record in records),
            policy=self._policy,
            concurrency=self._concurrency,
            request_timeout_s=self._timeout,
            sleep=self._sleep,
            what=f"upsert {self._role}",
            repair=self._recreate_schema,
            probe=self._read_container,
        )

    async def _read_container(self) -> None:
        """Read the container's properties through the SDK: the store can serve, whatever the writes get."""
        if self._client is None:
            raise RuntimeError("PredictionWriter is not open; call open() first or use it with `async with`")
        name = container_specs(self._settings.cosmos)[self._role].name
        async with asyncio.timeout(self._timeout):
            await self._client.get_database_client(self._settings.cosmos.database).get_container_client(name).read()

    async def _recreate_schema(self) -> None:
        if self._client is None:
            raise RuntimeError("PredictionWriter is not open; call open() first or use it with `async with`")
        async with asyncio.timeout(self._timeout * 3):
            await ensure_schema_async(self._client, self._settings)
