"""Stream throughput and publish→stored latency, side by side with the raw predictor, in one run.

    python benchmarks/bench_stream.py [--rate 200] [--seconds 30] [--saturation 4000]

1. raw: the production predictor scores the same tweets in-process at the worker's batch size (tweets/s);
2. fixed rate: tweets offered at ``--rate`` for ``--seconds``; latency = arrival of the tweet's scored event (emitted
   right after its prediction is stored) minus the producer's ``published_at`` — an upper bound of publish→stored;
3. saturation: ``--saturation`` tweets published at once; throughput = tweets / (last scored − first published).

Prints p50/p99 latency, sustained throughput and the ratio stream/raw. Needs `triage stack up` and a production
model. The worker runs as its own process on fresh topics and a fresh Cosmos database, so nothing mixes with the demo.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.settings import Settings, load_settings
from tweet_triage.stream.events import TweetEvent
from tweet_triage.stream.producer.kafka import KafkaPublisher
from tweet_triage.stream.producer.run import publish_events
from tweet_triage.stream.scored import ScoredEvent
from tweet_triage.stream.timestamps import utc_now
from tweet_triage.training.prepare import load

BATCH = 64


def isolated(settings: Settings, tag: str) -> tuple[Settings, dict[str, str]]:
    kafka = {
        "topic_tweets": f"bench-tweets-{tag}",
        "topic_scored": f"bench-scored-{tag}",
        "topic_dlq": f"bench-dlq-{tag}",
        "topic_feedback": f"bench-feedback-{tag}",
        "consumer_group": f"bench-{tag}",
    }
    cosmos = {"database": f"bench-{tag}"}
    env = {
        **os.environ,
        **{f"TRIAGE_KAFKA__{k.upper()}": v for k, v in kafka.items()},
        "TRIAGE_COSMOS__DATABASE": cosmos["database"],
    }
    return load_settings(kafka=kafka, cosmos=cosmos), env


def texts_for(settings: Settings, version_tags: dict[str, str]) -> list[tuple[str, str]]:
    dataset = load(settings.data.data_dir / "prepared" / version_tags["dataset.version"])
    examples = [e for split in dataset.splits.values() for e in split]
    return [(e.text, e.keyword) for e in examples]


def raw_throughput(predictor: Predictor, tweets: list[tuple[str, str]]) -> float:
    texts, keywords = [t for t, _ in tweets], [k for _, k in tweets]
    predictor.score(texts[:BATCH], keywords[:BATCH])
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):  # the worker's batches: arrival order, one batch at a time
        predictor.score(texts[start : start + BATCH], keywords[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started)


async def run_phase(
    settings: Settings, events: list[TweetEvent], rate: float | None
) -> tuple[npt.NDArray[np.float64], float]:
    """Publish ``events`` (at ``rate``) while reading their scored events; returns latencies and throughput."""
    from aiokafka import AIOKafkaConsumer

    wanted = {e.id for e in events}
    arrivals: dict[str, tuple[float, float]] = {}
    consumer = AIOKafkaConsumer(
        settings.kafka.topic_scored,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="latest",
        group_id=f"bench-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    await consumer.seek_to_end()

    async def read() -> None:
        while len(arrivals) < len(wanted):
            batch = await consumer.getmany(timeout_ms=500)
            now = utc_now()
            for messages in batch.values():
                for message in messages:
                    scored = ScoredEvent.from_json(message.value)
                    if scored.id in wanted and scored.published_at is not None:
                        arrivals[scored.id] = ((now - scored.published_at).total_seconds(), now.timestamp())

    reader = asyncio.create_task(read())
    started = time.time()
    async with KafkaPublisher(settings) as publisher:
        await publish_events(events, publisher, rate=rate)
    await asyncio.wait_for(reader, timeout=600)
    await consumer.stop()
    latencies = np.array([latency for latency, _ in arrivals.values()])
    last = max(at for _, at in arrivals.values())
    return latencies, len(arrivals) / (last - started)


def make_events(tweets: list[tuple[str, str]], n: int, prefix: str) -> list[TweetEvent]:
    return [
        TweetEvent(id=f"{prefix}-{i}", text=tweets[i % len(tweets)][0], keyword=tweets[i % len(tweets)][1] or None)
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--saturation", type=int, default=4000)
    parser.add_argument("--port", type=int, default=16099)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    base = load_settings()
    registry = Registry(base)
    version = registry.get(PRODUCTION)
    predictor = Predictor(registry.download(version), version=version.version)
    tweets = texts_for(base, version.tags)
    raw = raw_throughput(predictor, tweets[:2000])
    del predictor
    print(f"model v{version.version}; raw predictor: {raw:.0f} tweets/s (batch {BATCH}, in-process)")

    tag = uuid.uuid4().hex[:8]
    settings, env = isolated(base, tag)
    triage = str(Path(sys.executable).with_name("triage"))
    worker = subprocess.Popen(
        [triage, "worker", "--web-port", str(args.port), "--batch-size", str(BATCH)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=2).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the worker did not become ready")
            time.sleep(0.5)  # readiness polling with a deadline
        fixed = make_events(tweets, int(args.rate * args.seconds), f"fixed-{tag}")
        latencies, sustained = asyncio.run(run_phase(settings, fixed, args.rate))
        burst = make_events(tweets, args.saturation, f"burst-{tag}")
        _, saturated = asyncio.run(run_phase(settings, burst, None))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    print(f"{'':24}{'p50':>10}{'p99':>10}{'throughput':>14}")
    print(
        f"{f'fixed {args.rate:.0f}/s offered':24}{np.percentile(latencies, 50) * 1000:>8.0f}ms"
        f"{np.percentile(latencies, 99) * 1000:>8.0f}ms{sustained:>10.0f}/s"
    )
    print(f"{'saturation':24}{'':>10}{'':>10}{saturated:>10.0f}/s")
    print(f"stream / raw predictor throughput: {saturated / raw:.2f}  ({saturated:.0f} vs {raw:.0f} tweets/s)")
    print(
        json.dumps(
            {
                "raw": raw,
                "sustained": sustained,
                "saturated": saturated,
                "p50_s": float(np.percentile(latencies, 50)),
                "p99_s": float(np.percentile(latencies, 99)),
            }
        )
    )


if __name__ == "__main__":
    main()
