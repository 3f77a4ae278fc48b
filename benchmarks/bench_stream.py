"""Stream throughput, publish→stored latency and CPU per tweet of every process, beside the raw predictor, in one run.

    python benchmarks/bench_stream.py [--rate 200] [--tweets 3000] [--saturation 4000] [--repeats 3] [--alone]
                                      [--beside-training]

1. raw: the production predictor scores the same tweets in-process, in arrival order, at the worker's batch size
   (median of ``--repeats`` passes);
2. fixed rate: ``--tweets`` tweets offered at ``--rate``; latency = arrival of the tweet's scored event (the worker
   publishes it right after the prediction is stored) minus the producer's ``published_at`` — an upper bound of
   publish→stored (:mod:`tweet_triage.stream.latency`, the same measurement as `make demo`'s summary); meanwhile the
   CPU time of every process of the stack (worker, monitor, API, broker, its object store, Cosmos DB server, MLflow)
   is divided by the tweets (:mod:`tweet_triage.app.stack.usage`);
3. saturation: ``--saturation`` tweets published at once; throughput = tweets / (last arrival − first publish).

Phases 2 and 3 are repeated ``--repeats`` times; medians are printed with the CPU model and flags. The worker runs as
its own process on fresh topics and a fresh Cosmos database, with the drift monitor and the scoring API running beside
it as in production (``--alone``: the worker only). ``--beside-training`` adds a quick training started as the local
retraining backend starts one (idle CPU priority, bounded threads): the stream's figures beside a retraining, and the
training's own CPU in the table. Needs `triage stack up` and an approved production model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tweet_triage.app.stack.usage import CpuPerTweet, CpuSnapshot, budget_ms, stack_processes
from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.model.hardware import cpu_info
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.monitoring.retrain.backends import describe_priority, lower_priority, thread_limits
from tweet_triage.settings import Settings, load_settings
from tweet_triage.stream.latency import LatencyReport, publish_and_observe
from tweet_triage.training.prepare import load

BATCH = 64
BENCH_APPS = ("worker", "monitor", "api", "dashboard")  # this benchmark starts its own worker, monitor and API


def isolated(settings: Settings, tag: str, ports: dict[str, int]) -> tuple[Settings, dict[str, str]]:
    """Settings and environment of a stream of its own: topics, consumer groups, database, web ports."""
    kafka = {
        "topic_tweets": f"bench-tweets-{tag}",
        "topic_scored": f"bench-scored-{tag}",
        "topic_dlq": f"bench-dlq-{tag}",
        "topic_feedback": f"bench-feedback-{tag}",
        "consumer_group": f"bench-{tag}",
    }
    env = {
        **os.environ,
        **{f"TRIAGE_KAFKA__{k.upper()}": v for k, v in kafka.items()},
        "TRIAGE_COSMOS__DATABASE": f"bench-{tag}",
        "TRIAGE_MONITOR__CONSUMER_GROUP": f"bench-monitor-{tag}",
        "TRIAGE_MONITOR__WEB_PORT": str(ports["monitor"]),
        "TRIAGE_RETRAIN__BACKEND": "record-only",
        "TRIAGE_API__PORT": str(ports["api"]),
    }
    return load_settings(kafka=kafka, cosmos={"database": f"bench-{tag}"}), env


def tweets_for(settings: Settings, version_tags: dict[str, str]) -> list[tuple[str, str]]:
    dataset = load(settings.data.data_dir / "prepared" / version_tags["dataset.version"])
    return [(e.text, e.keyword) for split in dataset.splits.values() for e in split]


def raw_throughput(predictor: Predictor, tweets: list[tuple[str, str]], repeats: int) -> float:
    texts, keywords = [t for t, _ in tweets], [k for _, k in tweets]
    predictor.score(texts[:BATCH], keywords[:BATCH])
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(texts), BATCH):  # the worker's batches: arrival order, one batch at a time
            predictor.score(texts[start : start + BATCH], keywords[start : start + BATCH])
        timings.append(time.perf_counter() - started)
    return len(texts) / statistics.median(timings)


def make_events(tweets: list[tuple[str, str]], n: int, prefix: str) -> list[TweetEvent]:
    return [
        TweetEvent(id=f"{prefix}-{i}", text=tweets[i % len(tweets)][0], keyword=tweets[i % len(tweets)][1] or None)
        for i in range(n)
    ]


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    health: str


def start(name: str, args: list[str], env: dict[str, str], health: str, log: Path) -> Service:
    triage = str(Path(sys.executable).with_name("triage"))
    with log.open("ab") as out:
        process = subprocess.Popen([triage, *args], env=env, stdout=out, stderr=out, start_new_session=True)
    return Service(name, process, health)


def wait_ready(services: list[Service], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(services)
    while pending:
        for service in list(pending):
            if service.process.poll() is not None:
                raise SystemExit(f"the {service.name} exited before it was ready")
            try:
                if httpx.get(service.health, timeout=2).status_code == 200:
                    pending.remove(service)
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise SystemExit(f"not ready after {timeout_s:.0f} s: {', '.join(s.name for s in pending)}")
        time.sleep(0.5)  # readiness polling with a deadline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--tweets", type=int, default=3000, help="tweets offered at --rate per repeat")
    parser.add_argument("--saturation", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--alone", action="store_true", help="run the worker without the monitor and the API")
    parser.add_argument("--port", type=int, default=16099, help="the worker's web port (monitor +1, API +2)")
    parser.add_argument("--scoring-threads", type=int, default=2, help="the worker's --scoring-threads")
    parser.add_argument(
        "--beside-training",
        action="store_true",
        help="a quick training runs beside the stream at the local retraining's priority and threads "
        "(TRIAGE_RETRAIN__PRIORITY / THREADS), registered under a model name of its own",
    )
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    base = load_settings()
    registry = Registry(base)
    version = registry.get(PRODUCTION)
    predictor = Predictor(registry.download(version), version=version.version)
    tweets = tweets_for(base, version.tags)
    raw = raw_throughput(predictor, tweets[:2000], args.repeats)
    graph = predictor.graph
    del predictor
    print(f"CPU: {cpu_info().describe()}")
    print(f"model v{version.version} (graph {graph}); raw predictor: {raw:.0f} tweets/s (batch {BATCH}, in-process)")

    tag = uuid.uuid4().hex[:8]
    ports = {"worker": args.port, "monitor": args.port + 1, "api": args.port + 2}
    settings, env = isolated(base, tag, ports)
    logs = base.stack.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    services = [
        start(
            "worker",
            [
                "worker",
                "--web-port",
                str(ports["worker"]),
                "--batch-size",
                str(BATCH),
                "--scoring-threads",
                str(args.scoring_threads),
            ],
            env,
            f"http://127.0.0.1:{ports['worker']}/healthz",
            logs / f"bench-worker-{tag}.log",
        )
    ]
    if not args.alone:
        services.append(
            start(
                "monitor", ["monitor"], env, f"http://127.0.0.1:{ports['monitor']}/healthz", logs / "bench-monitor.log"
            )
        )
        services.append(
            start(
                "API",
                ["api", "--port", str(ports["api"])],
                env,
                f"http://127.0.0.1:{ports['api']}/readyz",
                logs / "bench-api.log",
            )
        )
    fixed: list[LatencyReport] = []
    saturated: list[LatencyReport] = []
    cpu: list[CpuPerTweet] = []
    load: list[float] = []  # ms per tweet of this process (the producer and the observer), its children left out
    training: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(services, timeout_s=600)
        running = stack_processes(base)
        stack = {name: process for name, process in running.items() if name not in BENCH_APPS}
        processes = {s.name.lower(): psutil.Process(s.process.pid) for s in services} | stack
        if args.beside_training:
            training = start_training(base, env, tag, logs / f"bench-training-{tag}.log")
            processes["training"] = psutil.Process(training.pid)
        busy = [name for name in BENCH_APPS if name in running]
        if busy:
            print(f"warning: {', '.join(busy)} of `triage demo` still running beside the benchmark (stack down first)")
        for repeat in range(args.repeats):
            events = make_events(tweets, args.tweets, f"fixed-{tag}-{repeat}")
            before, load_before = CpuSnapshot.take(processes), time.process_time()
            fixed.append(asyncio.run(publish_and_observe(settings, events, rate=args.rate, timeout_s=600)))
            cpu.append(CpuPerTweet.between(before, CpuSnapshot.take(processes), len(events)))
            load.append(1000.0 * (time.process_time() - load_before) / len(events))
            burst = make_events(tweets, args.saturation, f"burst-{tag}-{repeat}")
            saturated.append(asyncio.run(publish_and_observe(settings, burst, rate=None, timeout_s=600)))
        if training is not None and training.poll() is not None:
            print(f"warning: the training ended before the last repeat (exit code {training.returncode}); see its log")
    finally:
        for process in [s.process for s in services] + ([training] if training is not None else []):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for service in services:
            service.process.wait(timeout=60)
        if training is not None:
            training.wait(timeout=60)
    beside = [s.name for s in services]
    if training is not None:
        beside.append(f"training ({describe_priority(base.retrain.priority, base.retrain.threads)})")
    _report(args, raw, fixed, saturated, cpu, load, beside)


def start_training(settings: Settings, env: dict[str, str], tag: str, log: Path) -> subprocess.Popen[bytes]:
    """`triage train --quick` as the local retraining backend starts a retraining: its priority and thread cap."""
    retrain = settings.retrain
    own = {"TRIAGE_MLFLOW__MODEL_NAME": f"bench-{tag}", "TRIAGE_MLFLOW__EXPERIMENT": f"bench-{tag}"}
    triage = str(Path(sys.executable).with_name("triage"))
    with log.open("ab") as out:
        return subprocess.Popen(
            [triage, "train", "--quick"],
            env={**env, **thread_limits(retrain.threads), **own},
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: lower_priority(retrain.priority),  # noqa: PLW1509 - only os calls, no locks
        )


def _report(
    args: argparse.Namespace,
    raw: float,
    fixed: list[LatencyReport],
    saturated: list[LatencyReport],
    cpu: list[CpuPerTweet],
    load: list[float],
    beside: list[str],
) -> None:
    p50 = statistics.median(r.p50_s for r in fixed)
    p99 = statistics.median(r.p99_s for r in fixed)
    sustained = statistics.median(r.throughput for r in fixed)
    peak = statistics.median(r.throughput for r in saturated)
    names = list(dict.fromkeys(name for sample in cpu for name in sample.ms))
    per_process = {name: statistics.median(sample.ms.get(name, 0.0) for sample in cpu) for name in names}
    total = statistics.median(sample.total_ms for sample in cpu)
    budget = budget_ms(psutil.cpu_count() or 1, args.rate)
    print(f"running: {', '.join(beside)}; medians of {args.repeats} repeats")
    print(f"CPU per tweet at {args.rate:.0f}/s offered ({args.tweets} tweets; budget {budget:.1f} ms on all cores):")
    for name, value in per_process.items():
        print(f"  {name:<12}{value:>8.2f} ms")
    print(f"  {'total':<12}{total:>8.2f} ms")
    print(f"  (the load generator, this process, beside: {statistics.median(load):.2f} ms)")
    print(f"{'':26}{'p50':>9}{'p99':>9}{'throughput':>13}  verdicts")
    print(
        f"{f'fixed {args.rate:.0f}/s offered':26}{p50 * 1000:>7.0f}ms{p99 * 1000:>7.0f}ms{sustained:>9.0f}/s  "
        + "; ".join(r.verdict() for r in fixed)
    )
    print(f"{'saturation':26}{'':>9}{'':>9}{peak:>9.0f}/s  " + ", ".join(f"{r.throughput:.0f}/s" for r in saturated))
    print(f"stream / raw predictor throughput: {peak / raw:.2f}  ({peak:.0f} vs {raw:.0f} tweets/s)")
    print(
        json.dumps(
            {
                "cpu": cpu_info().to_dict(),
                "beside": beside,
                "raw": raw,
                "sustained": sustained,
                "saturated": peak,
                "ratio": peak / raw,
                "p50_s": p50,
                "p99_s": p99,
                "cpu_ms_per_tweet": per_process,
                "cpu_ms_per_tweet_total": total,
                "kept_up": [r.kept_up for r in fixed],
                "repeats": {
                    "p99_s": [r.p99_s for r in fixed],
                    "saturated": [r.throughput for r in saturated],
                },
            }
        )
    )


if __name__ == "__main__":
    main()
