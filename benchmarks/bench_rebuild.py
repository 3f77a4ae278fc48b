"""Rebuilding the predictions container from ``tweets-scored``: peak memory and time, in chunks vs all at once.

    python benchmarks/bench_rebuild.py [--records 100000] [--chunk 2000]

Publishes ``--records`` scored events (the production shape: 384-d float16 embedding, about 1.4 KB each) to a topic of
its own, then rebuilds a fresh Cosmos database from it twice, side by side, each in a process of its own so its peak
resident memory (``ru_maxrss``) is its own: in chunks of ``--chunk`` records (what `triage results rebuild` and
recovery do) and with the whole topic as one chunk (what the rebuild did before: every record in memory). Needs
`triage stack up`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
import uuid
from datetime import UTC, datetime

import numpy as np
from aiokafka import AIOKafkaProducer

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.model.hardware import cpu_info
from tweet_triage.settings import Settings, load_settings
from tweet_triage.store.cosmos import PREDICTIONS
from tweet_triage.store.records import PredictionRecord
from tweet_triage.stream.rebuild import rebuild

EMBEDDING_DIM = 384


def settings_for(topic: str, database: str) -> Settings:
    return load_settings(kafka={"topic_scored": topic}, cosmos={"database": database})


def event(i: int, rng: np.random.Generator) -> bytes:
    tweet = TweetEvent(id=f"rb-{i:07d}", text=f"Flood water rising near the bridge, families on roofs #{i}")
    record = PredictionRecord.from_scoring(
        tweet,
        label="disaster",
        confidence=0.8,
        probabilities={"disaster": 0.8, "not_disaster": 0.2},
        model_name="bench",
        model_version="1",
        scored_at=datetime.now(UTC),
    )
    return ScoredEvent.from_prediction(record, rng.standard_normal(EMBEDDING_DIM).astype(np.float32)).to_json()


async def publish(settings: Settings, topic: str, count: int) -> int:
    await ensure_topics(settings, names=[topic], partitions=2)
    rng = np.random.default_rng(0)
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all", linger_ms=50, max_batch_size=256 * 1024)
    await producer.start()
    size = 0
    try:
        pending = []
        for i in range(count):
            value = event(i, rng)
            size += len(value)
            pending.append(await producer.send(topic, value=value, key=f"rb-{i:07d}".encode()))
            if len(pending) >= 5_000:
                await asyncio.gather(*pending)
                pending = []
                print(f"  published {i + 1:,} of {count:,}", flush=True)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return size


def run_rebuild(topic: str, database: str, chunk: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    started = time.perf_counter()
    [report] = rebuild(settings_for(topic, database), containers=[PREDICTIONS], chunk_records=chunk)
    seconds = time.perf_counter() - started
    out.put((report.read, report.written, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(topic: str, chunk: int) -> tuple[int, int, float, float]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=run_rebuild, args=(topic, f"bench-rebuild-{uuid.uuid4().hex[:8]}", chunk, out))
    process.start()
    result: tuple[int, int, float, float] = out.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=2_000)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    topic = f"bench-rebuild-{tag}"
    print(f"publishing {args.records:,} scored events to {topic} ...", flush=True)
    size = asyncio.run(publish(settings_for(topic, f"bench-rebuild-{tag}"), topic, args.records))
    columns = {f"chunks of {args.chunk:,}": args.chunk, "all at once": args.records + 1}
    results = {}
    for name, chunk in columns.items():
        print(f"rebuilding {name} ...", flush=True)
        results[name] = measure(topic, chunk)
    print(f"\nCPU: {cpu_info().describe()}")
    print(f"{args.records:,} scored events, {size / 1e6:.0f} MB on the topic")
    print(f"{'':24}" + "".join(f"{name:>18}" for name in results))
    rows = [
        ("records read", [f"{r[0]:,}" for r in results.values()]),
        ("items written", [f"{r[1]:,}" for r in results.values()]),
        ("seconds", [f"{r[2]:.0f}" for r in results.values()]),
        ("peak RSS (MB)", [f"{r[3]:.0f}" for r in results.values()]),
    ]
    for name, values in rows:
        print(f"{name:24}" + "".join(f"{v:>18}" for v in values))
    chunked, whole = results.values()
    print(f"\npeak memory: chunks {chunked[3]:.0f} MB vs all at once {whole[3]:.0f} MB ({whole[3] / chunked[3]:.1f}x)")


if __name__ == "__main__":
    main()
