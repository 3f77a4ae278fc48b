"""The worker's write path against a fake container that fails on cue: retries, backoff, give-up, rejections; the
writer's open/close lifecycle against a fake client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.cosmos.exceptions import CosmosHttpResponseError

from tests.helpers import scored
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.errors import StoreRejected, StoreUnavailable
from tweet_triage.settings import load_settings
from tweet_triage.store import writer as writer_module
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import Backoff, RetryNotice, RetryPolicy
from tweet_triage.store.writer import PredictionWriter, upsert_items, upsert_predictions

FAST = Backoff(initial_s=0.1, max_s=1.0)


def http_error(status: int, message: str) -> CosmosHttpResponseError:
    return CosmosHttpResponseError(status_code=status, message=message)  # type: ignore[no-untyped-call]


def throttled(retry_after_ms: int) -> CosmosHttpResponseError:
    error = http_error(429, "Request rate is large")
    error.headers = {"x-ms-retry-after-ms": str(retry_after_ms)}
    return error


class FakeContainer:
    """Stores items by id; ``failures`` decides, per call, whether to raise instead."""

    def __init__(self, failures: Callable[[dict[str, Any], int], Exception | None] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._failures = failures

    async def upsert_item(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let the other writers in, as real I/O would
            error = self._failures(body, self.calls) if self._failures else None
            if error is not None:
                raise error
            self.items[body["id"]] = body
            return body
        finally:
            self.in_flight -= 1


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def records(n: int, label: str = "disaster") -> list[PredictionRecord]:
    return [
        scored(
            TweetEvent(id=str(i), text=f"tweet {i}"),
            scored_at=datetime(2024, 5, 1, tzinfo=UTC),
            label=label,
            confidence=0.7,
            other="not_disaster" if label == "disaster" else "x",
            model_name="m",
        )
        for i in range(n)
    ]


def write(
    container: FakeContainer, batch: list[PredictionRecord], policy: RetryPolicy, sleeps: Sleeps, **kw: Any
) -> Any:
    return asyncio.run(upsert_predictions(container, batch, policy=policy, sleep=sleeps, rand=lambda: 1.0, **kw))


def test_everything_is_written_in_one_round_when_the_store_is_healthy() -> None:
    container, sleeps = FakeContainer(), Sleeps()
    report = write(container, records(100), RetryPolicy(max_attempts=1), sleeps, concurrency=8)
    assert report.written == 100 and report.rounds == 1 and report.waited_s == 0
    assert len(container.items) == 100 and sleeps.waits == []
    assert container.max_in_flight <= 8


def test_writing_twice_is_harmless() -> None:
    container, sleeps = FakeContainer(), Sleeps()
    write(container, records(10), RetryPolicy(), sleeps)
    write(container, records(10, label="other"), RetryPolicy(), sleeps)
    assert len(container.items) == 10
    assert {item["label"] for item in container.items.values()} == {"other"}


def test_throttled_items_wait_at_least_the_retry_after_and_only_they_are_retried() -> None:
    def fail(body: dict[str, Any], call: int) -> Exception | None:
        return throttled(750) if body["id"] in {"3", "7"} and call <= 10 else None

    container, sleeps = FakeContainer(fail), Sleeps()
    report = write(container, records(10), RetryPolicy(max_attempts=3, backoff=FAST), sleeps)
    assert report.rounds == 2 and container.calls == 12  # 10 + the 2 throttled ones
    assert sleeps.waits == [0.75]
    assert len(container.items) == 10


@pytest.mark.parametrize(
    "error",
    [
        http_error(503, "Service Unavailable"),
        ServiceRequestError("Connection refused"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_outage_then_recovery_with_growing_waits(error: Exception) -> None:
    container = FakeContainer(lambda body, call: error if call <= 5 * 4 else None)  # 4 rounds of 5 fail
    sleeps, notices = Sleeps(), list[RetryNotice]()
    policy = RetryPolicy.forever(backoff=FAST, on_retry=notices.append)
    report = write(container, records(5), policy, sleeps)
    assert report.rounds == 5 and len(container.items) == 5
    assert sleeps.waits == [0.1, 0.2, 0.4, 0.8]
    assert [notice.attempt for notice in notices] == [1, 2, 3, 4]
    assert all(notice.pending == 5 for notice in notices)


def test_bounded_retries_raise_store_unavailable_with_what_is_left() -> None:
    container = FakeContainer(lambda body, call: throttled(2000) if body["id"] == "0" else None)
    sleeps = Sleeps()
    with pytest.raises(StoreUnavailable) as caught:
        write(container, records(4), RetryPolicy(max_attempts=3, backoff=FAST), sleeps)
    assert caught.value.pending == 1 and caught.value.attempts == 3
    assert sleeps.waits == [2.0, 2.0]
    assert sorted(container.items) == ["1", "2", "3"]  # the others are durable already


def test_permanent_refusals_are_reported_after_everything_else_is_written() -> None:
    too_large = http_error(413, "Request size is too large")
    container = FakeContainer(lambda body, call: too_large if body["id"] == "2" else None)
    sleeps = Sleeps()
    with pytest.raises(StoreRejected) as caught:
        write(container, records(5), RetryPolicy.forever(), sleeps)
    assert [(r.item_id, r.status) for r in caught.value.rejected] == [("2", 413)]
    assert sorted(container.items) == ["0", "1", "3", "4"]
    assert sleeps.waits == []


def test_a_hanging_request_times_out_and_is_retried() -> None:
    class Hangs(FakeContainer):
        async def upsert_item(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            if self.calls == 0:
                self.calls += 1
                await asyncio.Event().wait()  # a paused server: no answer, ever
            return await super().upsert_item(body)

    container, sleeps = Hangs(), Sleeps()
    report = write(container, records(1), RetryPolicy(max_attempts=2, backoff=FAST), sleeps, request_timeout_s=0.01)
    assert report.rounds == 2 and "0" in container.items


def test_the_last_item_with_an_id_wins_within_a_call() -> None:
    container, sleeps = FakeContainer(), Sleeps()
    items = [{"id": "1", "v": 1}, {"id": "2", "v": 1}, {"id": "1", "v": 2}]
    report = asyncio.run(upsert_items(container, items, policy=RetryPolicy(), sleep=sleeps))
    assert report.written == 2 and container.items["1"]["v"] == 2


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(upsert_items(FakeContainer(), [], policy=RetryPolicy(), concurrency=0))


def test_a_missing_database_is_recreated_and_nothing_is_refused() -> None:
    """The local server restarted empty: every upsert gets 404 until the schema exists again."""
    state = {"schema": False, "repairs": 0}

    def fail(body: dict[str, Any], call: int) -> Exception | None:
        return None if state["schema"] else http_error(404, "Owner resource does not exist")

    async def repair() -> None:
        state["repairs"] += 1
        state["schema"] = True

    container, sleeps, recovered = FakeContainer(fail), Sleeps(), list[str]()
    policy = RetryPolicy.forever(backoff=FAST, on_recovered=recovered.append)
    report = asyncio.run(
        upsert_items(
            container, [r.to_item() for r in records(6)], policy=policy, sleep=sleeps, rand=lambda: 1.0, repair=repair
        )
    )
    assert report.rounds == 2 and len(container.items) == 6
    assert state["repairs"] == 1 and sleeps.waits == [0.1]
    assert recovered == ["upsert items"]


def test_a_repair_that_cannot_reach_the_store_yet_is_retried_by_the_next_round() -> None:
    state = {"schema": False, "repairs": 0}

    def fail(body: dict[str, Any], call: int) -> Exception | None:
        return None if state["schema"] else http_error(404, "missing")

    async def repair() -> None:
        state["repairs"] += 1
        if state["repairs"] < 3:
            raise ServiceRequestError("Connection refused")
        state["schema"] = True

    container, sleeps = FakeContainer(fail), Sleeps()
    asyncio.run(
        upsert_items(
            container,
            [r.to_item() for r in records(2)],
            policy=RetryPolicy.forever(backoff=FAST),
            sleep=sleeps,
            rand=lambda: 1.0,
            repair=repair,
        )
    )
    assert state["repairs"] == 3 and len(container.items) == 2


@pytest.mark.parametrize("status", [401, 403, 429, 503])
def test_store_wide_refusals_pause_until_the_store_answers_and_dead_letter_nothing(status: int) -> None:
    container = FakeContainer(lambda body, call: http_error(status, "refused") if call <= 3 * 10 else None)
    sleeps, notices = Sleeps(), list[RetryNotice]()
    report = write(container, records(3), RetryPolicy.forever(backoff=FAST, on_retry=notices.append), sleeps)
    assert len(container.items) == 3 and report.rounds == 11
    assert {n.status for n in notices} == {status} and len(sleeps.waits) == 10


def test_an_unexplained_error_is_the_items_fault_only_if_other_items_went_through() -> None:
    container = FakeContainer(lambda body, call: RuntimeError("boom") if body["id"] == "1" else None)
    with pytest.raises(StoreRejected) as caught:
        write(container, records(3), RetryPolicy.forever(), Sleeps())
    assert [(r.item_id, r.status) for r in caught.value.rejected] == [("1", None)]
    assert sorted(container.items) == ["0", "2"]

    everything_fails = FakeContainer(lambda body, call: RuntimeError("Session is closed"))
    with pytest.raises(RuntimeError, match="Session is closed"):  # a bug or a closed client: stop, refuse nothing
        write(everything_fails, records(3), RetryPolicy.forever(), Sleeps())


class FakeClient:
    """Stands in for the async Cosmos client: opening fails while ``outage`` has errors left; closes are counted."""

    def __init__(self, outage: list[Exception], container: FakeContainer) -> None:
        self.outage = outage
        self.container = container
        self.closes = 0

    async def __aenter__(self) -> FakeClient:
        if self.outage:
            raise self.outage.pop(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.closes += 1

    def get_container_client(self, name: str) -> FakeContainer:
        return self.container


def fake_store(monkeypatch: pytest.MonkeyPatch, outage: list[Exception]) -> tuple[list[FakeClient], FakeContainer]:
    """Every client the writer makes, and the one container they all lead to (the SDK write path)."""
    clients: list[FakeClient] = []
    container = FakeContainer()

    def make_client(settings: Any) -> FakeClient:
        clients.append(FakeClient(outage, container))
        return clients[-1]

    async def ensure_schema(client: FakeClient, settings: Any) -> FakeClient:
        return client

    monkeypatch.setattr(writer_module, "async_client", make_client)
    monkeypatch.setattr(writer_module, "ensure_schema_async", ensure_schema)
    return clients, container


def test_the_writer_opens_after_an_outage_writes_and_closes_every_client_it_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients, container = fake_store(monkeypatch, [ServiceRequestError("refused"), ServiceRequestError("refused")])
    sleeps = Sleeps()
    writer = PredictionWriter(load_settings(cosmos={"write_path": "sdk"}), policy=RetryPolicy.forever(), sleep=sleeps)

    async def lifetime() -> None:
        await writer.open()
        with pytest.raises(RuntimeError, match="already open"):
            await writer.open()
        await writer.write(records(3))
        await writer.close()
        await writer.close()  # closing twice is harmless
        with pytest.raises(RuntimeError, match="not open"):
            await writer.write(records(1))

    asyncio.run(lifetime())
    assert len(sleeps.waits) == 2 and len(container.items) == 3
    assert len(clients) == 3  # a new client per attempt
    assert all(client.closes >= 1 for client in clients)  # the failed attempts' clients too


def write_probed(
    container: FakeContainer, batch: list[PredictionRecord], policy: RetryPolicy, sleeps: Sleeps, probe: Probe
) -> Any:
    items = [record.to_item() for record in batch]
    return asyncio.run(upsert_items(container, items, policy=policy, sleep=sleeps, rand=lambda: 1.0, probe=probe))


class Probe:
    """The container read the writer makes when every item of a round is refused: fails while ``broken``."""

    def __init__(self, broken: Callable[[], bool]) -> None:
        self.broken = broken
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.broken():
            raise http_error(400, "the proxy refuses every request")


def test_a_store_that_refuses_every_write_and_a_read_too_is_waited_for_not_blamed_on_the_items() -> None:
    """A proxy answers 400 to everything for the first 3 rounds: the items are retried, then all written."""

    def refuse_while_broken(body: dict[str, Any], call: int) -> Exception | None:
        return http_error(400, "the proxy refuses every request") if call <= 3 * 20 else None

    container, sleeps = FakeContainer(refuse_while_broken), Sleeps()
    probe = Probe(lambda: container.calls <= 3 * 20)
    notices: list[RetryNotice] = []
    policy = RetryPolicy(backoff=FAST, on_retry=notices.append)
    report = write_probed(container, records(20), policy, sleeps, probe)
    assert report.written == 20 and report.rounds == 4 and len(container.items) == 20
    assert probe.calls == 3 and len(sleeps.waits) == 3
    assert [n.failure.status for n in notices] == [400, 400, 400]


def test_items_refused_while_the_store_reads_fine_are_the_items_fault() -> None:
    container = FakeContainer(lambda body, call: http_error(400, "invalid document"))
    probe = Probe(lambda: False)
    with pytest.raises(StoreRejected) as refused:
        write_probed(container, records(5), RetryPolicy(backoff=FAST), Sleeps(), probe)
    assert probe.calls == 1 and len(refused.value.rejected) == 5


def test_refusals_with_different_statuses_or_beside_written_items_are_never_probed() -> None:
    def mixed(body: dict[str, Any], call: int) -> Exception | None:
        return http_error(400 if int(body["id"]) % 2 else 413, "refused")

    probe = Probe(lambda: True)
    with pytest.raises(StoreRejected):
        write_probed(FakeContainer(mixed), records(4), RetryPolicy(backoff=FAST), Sleeps(), probe)
    partly = FakeContainer(lambda body, call: http_error(400, "refused") if body["id"] == "0" else None)
    with pytest.raises(StoreRejected) as refused:
        write_probed(partly, records(4), RetryPolicy(backoff=FAST), Sleeps(), probe)
    assert probe.calls == 0 and [r.item_id for r in refused.value.rejected] == ["0"] and len(partly.items) == 3


def test_a_round_with_dropped_connections_and_a_missing_schema_reports_the_missing_schema() -> None:
    """After a restart of the store some requests meet the dropped connection, others the empty server: the round is
    reported as 404 (what the repair answers), whatever order the answers came in."""

    def after_restart(body: dict[str, Any], call: int) -> Exception | None:
        if call > 4:
            return None
        return ServiceRequestError("Server disconnected") if call == 1 else http_error(404, "Resource Not Found")

    notices: list[RetryNotice] = []
    repairs: list[int] = []

    async def repair() -> None:
        repairs.append(1)

    items = [record.to_item() for record in records(4)]
    policy = RetryPolicy(backoff=FAST, on_retry=notices.append)
    container = FakeContainer(after_restart)
    asyncio.run(upsert_items(container, items, policy=policy, sleep=Sleeps(), repair=repair))
    assert [n.failure.status for n in notices] == [404] and repairs == [1] and len(container.items) == 4
