"""Contract tests of the results store against the real local Cosmos DB server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import scored
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.errors import StoreError
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import container_specs, ensure_schema, open_client
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import RetryPolicy
from tweet_triage.store.writer import PredictionWriter

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LABELS = ("disaster", "not_disaster")


def prediction(
    i: int, *, label: str | None = None, version: str = "1", scored_at: datetime | None = None
) -> PredictionRecord:
    label = label or LABELS[i % 2]
    p = 0.9 if label == "disaster" else 0.1
    return PredictionRecord.from_scoring(
        TweetEvent(id=f"{1_000_000 + i}", text=f"tweet number {i}", keyword="flood", created_at=T0),
        label=label,
        confidence=max(p, 1 - p),
        probabilities={"disaster": p, "not_disaster": 1 - p},
        model_name="tweet-triage",
        model_version=version,
        scored_at=scored_at or T0 + timedelta(milliseconds=i),
    )


def write(settings: Settings, records: list[PredictionRecord]) -> None:
    async def run() -> None:
        async with PredictionWriter(settings, policy=RetryPolicy(max_attempts=3)) as writer:
            report = await writer.write(records)
            assert report.written == len({r.id for r in records})

    asyncio.run(run())


def test_schema_is_created_idempotently_with_the_documented_partition_keys(store_settings: Settings) -> None:
    client = open_client(store_settings)
    try:
        ensure_schema(client, store_settings)
        database = ensure_schema(client, store_settings)  # twice: no error, nothing duplicated
        found = {c["id"]: c["partitionKey"]["paths"] for c in database.list_containers()}
    finally:
        client.close()
    expected = {spec.name: [spec.partition_key] for spec in container_specs(store_settings.cosmos).values()}
    assert found == expected


@pytest.fixture(params=["rest", "sdk"])
def write_path(request: pytest.FixtureRequest, store_settings: Settings) -> Settings:
    """The same store settings with each write path of the worker (lean REST upserts, or the SDK)."""
    cosmos = store_settings.cosmos.model_copy(update={"write_path": request.param})
    return store_settings.model_copy(update={"cosmos": cosmos})


def test_both_write_paths_store_exactly_the_record_and_repair_a_missing_database(write_path: Settings) -> None:
    records = [prediction(i) for i in range(40)]
    unicode = scored(TweetEvent(id="ünï-😀", text="Überschwemmung in Köln — 救命 😀", location="Köln"), scored_at=T0)
    write(write_path, [*records, unicode])
    with PredictionReader.open(write_path) as reader:
        for record in (records[7], unicode):
            assert reader.get(record.id) == record
        assert reader.count() == 41
    client = open_client(write_path)
    try:
        client.delete_database(write_path.cosmos.database)  # what a restart of the local server amounts to
    finally:
        client.close()
    write(write_path, records[:5])  # 404 on the write: the schema is re-created and the batch written
    with PredictionReader.open(write_path) as reader:
        assert reader.count() == 5


def test_writes_are_idempotent_upserts_keyed_by_tweet_id(store_settings: Settings) -> None:
    write(store_settings, [prediction(i) for i in range(20)])
    write(store_settings, [prediction(i) for i in range(20)])  # a redelivered batch
    write(store_settings, [prediction(3, label="not_disaster", version="2")])  # rescored by a newer model
    with PredictionReader.open(store_settings) as reader:
        assert reader.count() == 20
        record = reader.get("1000003")
        assert record is not None and (record.label, record.model_version) == ("not_disaster", "2")
        assert record.text == "tweet number 3" and record.keyword == "flood" and record.created_at == T0
        assert reader.get("no-such-tweet") is None


def test_counts_per_label_tail_and_keyset_paging(store_settings: Settings, tmp_path: Path) -> None:
    same_moment = T0 + timedelta(seconds=5)  # one micro-batch: many predictions share a scored_at
    records = [prediction(i) for i in range(30)] + [prediction(i, scored_at=same_moment) for i in range(30, 45)]
    write(store_settings, records)
    with PredictionReader.open(store_settings) as reader:
        assert reader.count() == 45
        assert reader.labels() == list(LABELS)
        assert reader.count_by_label() == {"disaster": 23, "not_disaster": 22}
        assert reader.count("disaster") == 23 and reader.count("no-such-label") == 0

        newest = reader.tail(5)
        assert [r.id for r in newest] == sorted((r.id for r in records[30:]), reverse=True)[:5]
        assert len(reader.tail(1000)) == 45

        order = [item["id"] for item in reader.iter_items(page_size=7)]  # 7 pages, cursors inside the tie
        assert order == [r.id for r in sorted(records, key=lambda r: r.order_key)]
        backwards = [item["id"] for item in reader.iter_items(newest_first=True, page_size=4)]
        assert backwards == order[::-1]

        out = tmp_path / "predictions.jsonl"
        assert reader.export(out, page_size=10) == 45
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == order
    assert not any(key.startswith("_") for line in lines for key in line)
    assert PredictionRecord.model_validate(lines[0]) == min(records, key=lambda r: r.order_key)
    assert not (tmp_path / "predictions.jsonl.part").exists()


def test_reading_a_database_nothing_was_written_to_says_so(store_settings: Settings) -> None:
    with PredictionReader.open(store_settings) as reader, pytest.raises(StoreError, match="nothing stored yet"):
        reader.count()


def test_the_results_cli_reads_through_the_same_repository(store_settings: Settings, tmp_path: Path) -> None:
    write(store_settings, [prediction(i) for i in range(6)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(
        COLUMNS="200",
        TRIAGE_STACK__COSMOS_PORT=str(store_settings.stack.cosmos_port),
        TRIAGE_COSMOS__DATABASE=store_settings.cosmos.database,
    )
    triage = str(Path(sys.executable).with_name("triage"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [triage, "results", *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )

    counted = run("count", "--json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == {"total": 6, "by_label": {"disaster": 3, "not_disaster": 3}}
    assert run("count", "--label", "disaster").stdout.strip() == "3"
    tail = run("tail", "-n", "2", "--json")
    assert [json.loads(line)["id"] for line in tail.stdout.splitlines()] == ["1000005", "1000004"]
    exported = run("export", str(tmp_path / "out.jsonl"))
    assert exported.returncode == 0 and "exported 6 prediction(s)" in exported.stdout
    missing_dir = run("export", str(tmp_path / "nope" / "out.jsonl"))
    assert missing_dir.returncode == 2 and "is not an existing folder" in missing_dir.stderr
