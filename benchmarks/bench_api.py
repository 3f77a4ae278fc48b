"""Scoring API load test: requests/s, tweets/s and p50/p99 latency for batch-1 and batch-16 requests, side by side.

    python benchmarks/bench_api.py [--workers 1] [--concurrency 8] [--seconds 20] [--url http://127.0.0.1:18000]

Without ``--url`` the benchmark starts its own `triage api --workers N` on a free port (the production model of the
configured registry; needs `triage stack up` and a production model, e.g. after `make demo`) and stops it at the
end. Each phase keeps ``--concurrency`` requests in flight for ``--seconds`` with tweets from the model's own prepared
dataset; latency is measured by the client (request sent → answer parsed). For reference, the production predictor
is first timed in-process at the same batch sizes (no HTTP), and the ratio API/raw is printed. The load generator
runs on the same cores as the server, so the figures are a lower bound of what a separate client would see.
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

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q)) * 1e3 if self.latencies_s else float("nan")


def tweets_for(settings: Settings) -> list[str]:
    try:
        tags = Registry(settings).get(PRODUCTION).tags
        dataset = load(settings.data.data_dir / "prepared" / tags["dataset.version"])
        return [e.text for split in dataset.splits.values() for e in split]
    except Exception as exc:  # any missing piece: fall back to a few fixed tweets, and say so
        print(f"(no prepared dataset found: {exc}; using {len(FALLBACK)} fixed tweets)")
        return FALLBACK


async def run_phase(url: str, tweets: list[str], *, batch: int, concurrency: int, seconds: float) -> Phase:
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
        started = time.perf_counter()
        await asyncio.gather(*(caller(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Phase(batch, len(latencies), errors, elapsed, latencies)


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


def start_server(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    triage = str(Path(sys.executable).with_name("triage"))
    proc = subprocess.Popen(
        [triage, "api", "--workers", str(workers), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="server processes (ignored with --url)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase")
    parser.add_argument("--url", help="an API that is already running")
    args = parser.parse_args()

    settings = load_settings()
    tweets = tweets_for(settings)
    raw = {b: raw_throughput(settings, tweets, b, seconds=min(args.seconds, 10)) for b in BATCHES}
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.workers)
    try:
        wait_ready(url, args.workers)
        asyncio.run(run_phase(url, tweets, batch=16, concurrency=args.concurrency, seconds=3))  # warm-up
        phases = [
            asyncio.run(run_phase(url, tweets, batch=b, concurrency=args.concurrency, seconds=args.seconds))
            for b in BATCHES
        ]
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    workers = f"{args.workers} workers" if args.url is None else "external server"
    print(f"\nscoring API at {url} ({workers}, {args.concurrency} requests in flight, {args.seconds:.0f} s per phase)")
    header = "".join(f"{f'batch {p.batch}':>14}" for p in phases)
    print(f"{'':24}{header}")
    rows = [
        ("requests/s", [f"{p.rps:.1f}" for p in phases]),
        ("tweets/s", [f"{p.rps * p.batch:.0f}" for p in phases]),
        ("raw predictor tweets/s", [f"{raw[p.batch]:.0f}" for p in phases]),
        ("API / raw", [f"{p.rps * p.batch / raw[p.batch]:.2f}" for p in phases]),
        ("p50 latency (ms)", [f"{p.percentile(50):.1f}" for p in phases]),
        ("p99 latency (ms)", [f"{p.percentile(99):.1f}" for p in phases]),
        ("requests", [str(p.requests) for p in phases]),
        ("errors", [str(p.errors) for p in phases]),
    ]
    for name, values in rows:
        print(f"{name:24}" + "".join(f"{v:>14}" for v in values))
    one, sixteen = phases
    if one.rps > 0:
        print(f"\nbatch 16 scores {sixteen.rps * 16 / (one.rps or 1):.1f}x the tweets/s of batch 1")


if __name__ == "__main__":
    main()
