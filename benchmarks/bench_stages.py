"""CPU per tweet of each stage of the stream, measured one stage at a time on the same tweets (for capacity planning).

    python benchmarks/bench_stages.py [--model production] [--tweets 2000] [--repeats 3]

* score   — the production predictor (tokenization included) at the worker's batch size, this process's CPU;
* store   — upserting the prediction records the way the worker does (REST path, 32 in flight): this process's CPU
            plus the local Cosmos DB server's (on Azure the server side is the service's, paid in RU instead);
* publish — sending the scored events with the worker's producer (acks=all): this process's CPU plus the broker's
            (and its object store's, when the local broker is durable);
* monitor — the drift detectors observing the scored events (what `triage monitor` does per tweet).

Each figure is CPU milliseconds per tweet (user + system, all threads), the median of ``--repeats`` passes, printed
with the CPU model. Needs `triage stack up` and a production model. docs/capacity.md turns these into sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import psutil

from tweet_triage.app.stack.services import SERVICE_NAMES
from tweet_triage.broker.kafka_sender import KafkaSender
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.model.hardware import cpu_info
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.evaluation import scored_events
from tweet_triage.monitoring.runtime import build_drift_monitor
from tweet_triage.settings import Settings, load_settings
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.retry import RetryPolicy
from tweet_triage.store.writer import PredictionWriter
from tweet_triage.training.prepare import load

BATCH = 64


def cpu_of(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``processes`` together (0 for none)."""
    return float(sum(t.user + t.system for t in (p.cpu_times() for p in processes)))


def service_process(settings: Settings, name: str) -> list[psutil.Process]:
    """The local stack's processes behind ``name`` — cosmos; broker, with the object store it keeps its data in
    when durable — found by the ports they listen on."""
    ports = {
        "broker": {settings.stack.kafka_port, settings.stack.objects_port},
        "cosmos": {settings.stack.cosmos_port},
    }[name]
    return [
        psutil.Process(conn.pid)
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr[1] in ports and conn.pid
    ]


def per_tweet(run: Callable[[], None], n: int, repeats: int, server: list[psutil.Process]) -> tuple[float, float]:
    """(this process, the server) CPU ms per tweet, medians of ``repeats`` passes after one warm-up."""
    run()
    mine, theirs = [], []
    me = [psutil.Process()]
    for _ in range(repeats):
        own, other = cpu_of(me), cpu_of(server)
        run()
        mine.append(1e3 * (cpu_of(me) - own) / n)
        theirs.append(1e3 * (cpu_of(server) - other) / n)
    return statistics.median(mine), statistics.median(theirs)


async def per_tweet_async(
    run: Callable[[], Awaitable[None]], n: int, repeats: int, server: list[psutil.Process]
) -> tuple[float, float]:
    """:func:`per_tweet` for a coroutine (the event loop's own work is this process's CPU)."""
    await run()
    mine, theirs = [], []
    me = [psutil.Process()]
    for _ in range(repeats):
        own, other = cpu_of(me), cpu_of(server)
        await run()
        mine.append(1e3 * (cpu_of(me) - own) / n)
        theirs.append(1e3 * (cpu_of(server) - other) / n)
    return statistics.median(mine), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="production")
    parser.add_argument("--tweets", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import torch

    torch.set_num_threads(1)  # as in `triage monitor`

    tag = uuid.uuid4().hex[:8]
    settings = load_settings(
        cosmos={"database": f"bench-stages-{tag}"}, kafka={"topic_scored": f"bench-stages-scored-{tag}"}
    )
    registry = Registry(settings)
    version = registry.get(args.model)
    folder = registry.download(version)
    predictor = Predictor(folder, version=version.version)
    dataset = load(settings.data.data_dir / "prepared" / version.tags["dataset.version"])
    examples = (dataset.splits["test"] + dataset.splits["validation"] + dataset.splits["train"])[: args.tweets]
    texts, keywords = [e.text for e in examples], [e.keyword for e in examples]
    n = len(texts)

    def score() -> None:
        for start in range(0, n, BATCH):
            predictor.score(texts[start : start + BATCH], keywords[start : start + BATCH])

    events = scored_events(predictor, texts, keywords=keywords, model_version=version.version, id_prefix=tag)
    now = datetime.now(UTC)
    records = [
        PredictionRecord.from_scoring(
            TweetEvent(id=e.id, text=t, keyword=k or None),
            label=e.label,
            confidence=e.confidence,
            probabilities=e.probabilities,
            model_name=version.name,
            model_version=version.version,
            scored_at=now,
        )
        for e, t, k in zip(events, texts, keywords, strict=True)
    ]
    results: dict[str, tuple[float, float]] = {"score": per_tweet(score, n, args.repeats, [])}

    async def store_and_publish() -> None:
        async with PredictionWriter(settings, policy=RetryPolicy.forever()) as writer:

            async def store() -> None:
                for start in range(0, n, BATCH):
                    await writer.write(records[start : start + BATCH])

            results["store"] = await per_tweet_async(store, n, args.repeats, service_process(settings, "cosmos"))
        await ensure_topics(settings, partitions=2)
        sender = KafkaSender(settings)
        await sender.start()
        try:
            payloads = [(e.key, e.to_json()) for e in events]

            async def publish() -> None:
                for start in range(0, n, BATCH):
                    await sender.send_many(settings.kafka.topic_scored, payloads[start : start + BATCH])

            results["publish"] = await per_tweet_async(publish, n, args.repeats, service_process(settings, "broker"))
        finally:
            await sender.stop()

    asyncio.run(store_and_publish())
    monitor = build_drift_monitor(settings, version.version, folder)

    def observe() -> None:
        for event in events:
            vector = event.vector
            assert vector is not None
            monitor.observe(vector, event.probabilities)

    results["monitor"] = per_tweet(observe, n, args.repeats, [])
    _report(results, version.version, predictor.graph, n, args.repeats)


def _report(results: dict[str, tuple[float, float]], version: str, graph: str, n: int, repeats: int) -> None:
    print(f"CPU: {cpu_info().describe()}")
    print(f"model v{version} (graph {graph}); {n} tweets; medians of {repeats} passes; CPU ms per tweet")
    print(f"{'stage':10}{'this process':>14}{'server':>10}{'total':>10}")
    for stage, (mine, theirs) in results.items():
        print(f"{stage:10}{mine:>14.3f}{theirs:>10.3f}{mine + theirs:>10.3f}")
    total = sum(a + b for a, b in results.values())
    print(f"{'all':10}{'':>14}{'':>10}{total:>10.3f}  -> {1000 / total:.0f} tweets/s per fully used core")
    print(json.dumps({"cpu": cpu_info().to_dict(), "ms_per_tweet": results, "services": list(SERVICE_NAMES)}))


if __name__ == "__main__":
    main()
