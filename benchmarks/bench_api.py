"""Scoring API load test: requests/s, tweets/s, p50/p99 latency and the server's CPU per request, for batch-1 and
batch-16 requests, with server-side batching off and on, side by side in one run.

    python benchmarks/bench_api.py [--workers 1] [--concurrency 8] [--seconds 10] [--repeats 3] [--url URL]

Without ``--url`` the benchmark starts its own `triage api --workers N` on a free port twice (the production model
of the configured registry; needs `triage stack up` and a production model, e.g. after `make demo`): once scoring
every request alone ("alone": ``TRIAGE_API__BATCH_MAX_TWEETS=1``), once with the configured batching (concurrent
requests share model calls), and stops each at the end. Each phase keeps ``--concurrency`` requests in flight for
``--seconds`` with tweets from the model's own prepared dataset; latency is measured by the client (request sent →
answer parsed); every figure is the median of ``--repeats`` phases. For reference, the production predictor is first
timed in-process at the same batch sizes (no HTTP). The load generator runs on the same cores as the server, so the
figures are a lower bound of what a separate client would see.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil

from tweet_triage.app.stack.usage import cpu_seconds
from tweet_triage.model.hardware import cpu_info
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.prepare import load

BATCHES = (1, 16)
FALLBACK = [
    "Forest fire near La Ronge Sask. Canada",
    "13,000 people receive #wildfires evacuation orders in California",
    "my new mixtape is fire",
    "Flood water rising on Main Street, families trapped on roofs",
    "What a lovely sunny afternoon at the lake",
]


@dataclass(frozen=True)
class Phase:
    batch: int
    requests: int
    errors: int
    seconds: float
    latencies_s: list[float]
    server_cpu_s: float  # user + system CPU of the server's processes during the phase

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1e3 * self.server_cpu_s / self.requests if self.requests else float("nan")

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q)) * 1e3 if self.latencies_s else float("nan")


@dataclass(frozen=True)
class Setup:
    name: str
    env: dict[str, str]  # on top of this process's environment


SETUPS = (Setup("alone", {"TRIAGE_API__BATCH_MAX_TWEETS": "1"}), Setup("batched", {}))


def tweets_for(settings: Settings) -> list[str]:
    try:
        tags = Registry(settings).get(PRODUCTION).tags
        dataset = load(settings.data.data_dir / "prepared" / tags["dataset.version"])
        return [e.text for split in dataset.splits.values() for e in split]
    except Exception as exc:  # any missing piece: fall back to a few fixed tweets, and say so
        print(f"(no prepared dataset found: {exc}; using {len(FALLBACK)} fixed tweets)")
        return FALLBACK


async def run_phase(
    url: str, tweets: list[str], *, batch: int, concurrency: int, seconds: float, server: psutil.Process | None
) -> Phase:
    rng = random.Random(batch)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def caller(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            body = {"tweets": [{"text": rng.choice(tweets)} for _ in range(batch)]}
            started = time.perf_counter()
            try:
                response = await client.post("/v1/predict", json=body)
                response.json()
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        cpu_before = cpu_seconds(server) if server is not None else None
        started = time.perf_counter()
        await asyncio.gather(*(caller(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(server) if server is not None else None
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else float("nan")
    return Phase(batch, len(latencies), errors, elapsed, latencies, cpu)


def raw_throughput(settings: Settings, tweets: list[str], batch: int, seconds: float) -> float:
    """Tweets/s of the production predictor in this process at ``batch`` (the same tweets, no HTTP): the reference."""
    registry = Registry(settings)
    predictor = Predictor(registry.download(registry.get(PRODUCTION)), version="raw", threads=2)
    rng = random.Random(batch)
    predictor.predict(tweets[:batch])
    scored = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        predictor.predict([rng.choice(tweets) for _ in range(batch)])
        scored += batch
    return scored / (time.perf_counter() - started)


def start_server(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    triage = str(Path(sys.executable).with_name("triage"))
    proc = subprocess.Popen(
        [triage, "api", "--workers", str(workers), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **env},
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(url: str, workers: int, timeout_s: float = 180) -> None:
    """Ready when 4 x workers readiness checks in a row say so (each may land on any worker process)."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while streak < 4 * workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"the API at {url} did not become ready in {timeout_s:.0f} s")
        try:
            streak = streak + 1 if httpx.get(f"{url}/readyz", timeout=5).status_code == 200 else 0
        except httpx.HTTPError:
            streak = 0
        if streak == 0:
            time.sleep(0.5)  # readiness polling with a deadline


def measure(url: str, tweets: list[str], args: argparse.Namespace, server: psutil.Process | None) -> list[Phase]:
    """The median phase of ``args.repeats`` for each batch size (after a warm-up)."""
    asyncio.run(run_phase(url, tweets, batch=16, concurrency=args.concurrency, seconds=3, server=None))
    medians = []
    for batch in BATCHES:
        runs = [
            asyncio.run(
                run_phase(url, tweets, batch=batch, concurrency=args.concurrency, seconds=args.seconds, server=server)
            )
            for _ in range(args.repeats)
        ]
        medians.append(sorted(runs, key=lambda p: p.rps)[len(runs) // 2])
    return medians


def measure_setup(setup: Setup, tweets: list[str], args: argparse.Namespace) -> list[Phase]:
    proc, url = start_server(args.workers, setup.env)
    try:
        wait_ready(url, args.workers)
        print(f"measuring the API {setup.name} ...", flush=True)
        return measure(url, tweets, args, psutil.Process(proc.pid))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="server processes (ignored with --url)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument("--repeats", type=int, default=3, help="phases per figure (the median is shown)")
    parser.add_argument("--url", help="an API that is already running (measured as it is configured)")
    args = parser.parse_args()

    settings = load_settings()
    tweets = tweets_for(settings)
    print("timing the predictor in this process ...", flush=True)
    raw = {b: raw_throughput(settings, tweets, b, seconds=min(args.seconds, 10)) for b in BATCHES}
    if args.url is not None:
        columns = {("external", p.batch): p for p in measure(args.url, tweets, args, server=None)}
        names = ["external"]
    else:
        columns = {(s.name, p.batch): p for s in SETUPS for p in measure_setup(s, tweets, args)}
        names = [s.name for s in SETUPS]

    where = f"{args.workers} worker(s)" if args.url is None else args.url
    print(f"\nCPU: {cpu_info().describe()}")
    print(
        f"scoring API ({where}, {args.concurrency} requests in flight, medians of {args.repeats} x "
        f"{args.seconds:.0f} s)"
    )
    keys = [(name, batch) for batch in BATCHES for name in names]
    print(f"{'':24}" + "".join(f"{name[:9] + ' b' + str(batch):>14}" for name, batch in keys))
    rows = [
        ("requests/s", [f"{columns[k].rps:.1f}" for k in keys]),
        ("tweets/s", [f"{columns[k].rps * k[1]:.0f}" for k in keys]),
        ("raw predictor tweets/s", [f"{raw[k[1]]:.0f}" for k in keys]),
        ("API / raw", [f"{columns[k].rps * k[1] / raw[k[1]]:.2f}" for k in keys]),
        ("p50 latency (ms)", [f"{columns[k].percentile(50):.1f}" for k in keys]),
        ("p99 latency (ms)", [f"{columns[k].percentile(99):.1f}" for k in keys]),
        ("server CPU ms/request", [f"{columns[k].cpu_ms_per_request:.2f}" for k in keys]),
        ("requests", [str(columns[k].requests) for k in keys]),
        ("errors", [str(columns[k].errors) for k in keys]),
    ]
    for name, values in rows:
        print(f"{name:24}" + "".join(f"{v:>14}" for v in values))
    if args.url is None:
        before, after = (columns[(name, 1)] for name in names)
        print(
            f"\nbatch 1: batched {after.rps / (before.rps or 1):.2f}x the requests/s of alone; "
            f"goal >= 250 requests/s with p99 <= 100 ms: {after.rps:.0f}/s, p99 {after.percentile(99):.0f} ms"
        )
    print(f"raw predictor: batch 16 {raw[16] / (raw[1] or 1):.1f}x the tweets/s of batch 1")


if __name__ == "__main__":
    main()
