"""`make demo`: the whole pipeline on the local stack, from a fresh clone to triaged tweets in Cosmos DB.

1. start the local stack;
2. make sure a production model exists — if none, pull and prepare the dataset, train with the quick profile and
   record a clearly labelled *bootstrap* approval (never used once a production model exists);
3. start the stream worker and the drift/accuracy monitor in the background (stopped by `triage stack down`), and
   the scoring API and the relief dashboard next to them (stopped the same way), printing their URLs;
4. replay the dataset through the producer at a steady rate;
5. wait until every replayed tweet is stored, then summarise: tweets in/out, labels, throughput, publish→stored
   latency (p50/p99), dead letters — and leave everything running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx

from tweet_triage.app.launch import start_serving
from tweet_triage.app.stack.apps import start_app
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.app.stack.usage import CpuPerTweet, CpuSnapshot, stack_processes
from tweet_triage.clock import utc_now
from tweet_triage.errors import ContainerMissing
from tweet_triage.model.approval_gate import gate_for
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.settings import Settings, env_name
from tweet_triage.store.reader import PredictionReader
from tweet_triage.store.records import PredictionRecord
from tweet_triage.stream.latency import LatencyReport, publish_and_observe
from tweet_triage.stream.producer.csv_source import CsvTweetSource
from tweet_triage.training.datasets import DISASTER_TWEETS, pull, sha256_of
from tweet_triage.training.finetune import TrainConfig, quick_profile
from tweet_triage.training.pipeline import PipelineConfig, run_pipeline
from tweet_triage.training.prepare import prepare, write
from tweet_triage.training.promotion import bootstrap
from tweet_triage.training.quantization.study import quick_study

log = logging.getLogger(__name__)

WORKER = "worker"
MONITOR = "monitor"
Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoSummary:
    published: int
    stored: int
    labels: dict[str, int]
    dead_letters: int
    throughput: float
    p50_s: float
    p99_s: float
    offered_rate: float
    kept_up: bool
    verdict: str
    model_version: str
    worker_url: str
    api_url: str = ""
    dashboard_url: str = ""
    monitor_url: str = ""
    cpu: CpuPerTweet | None = None  # each process of the stack, from the first publish to the last tweet stored


def ensure_production_model(settings: Settings, say: Say, *, bootstrap_samples: int | None = None) -> str:
    """The production version, training a quick-profile bootstrap model first when there is none (on
    ``bootstrap_samples`` tweets instead of the profile's own number, if given)."""
    registry = Registry(settings)
    current = registry.find(PRODUCTION)
    if current is not None:
        gate = gate_for(registry)
        gate.require(  # the worker and the API would wait for an approval forever
            current.version,
            what=f"run the demo on {registry.name} v{current.version} (approve it with `triage model promote "
            f"{current.version} --approver NAME --reason TEXT`, e.g. a registry from before the approval chain)",
        )
        say(f"production model: {registry.name} v{current.version}")
        return current.version
    say("no production model yet: training one with the quick profile (a few minutes on 2 cores)")
    [csv] = pull(DISASTER_TWEETS, data_dir=settings.data.data_dir, mirror_dir=settings.data.mirror_dir)
    dataset = write(
        prepare(csv, DISASTER_TWEETS.prepare_options(), sha256_of(csv)), settings.data.data_dir / "prepared"
    )
    result = run_pipeline(
        settings,
        dataset,
        PipelineConfig(
            train=bootstrap_profile(bootstrap_samples),
            study=quick_study(),
            gate=settings.gate,
            trigger="demo bootstrap",
            fall_back_to_reference=True,  # the newcomer's first command ends with a model on every CPU
        ),
        registry=registry,
        on_stage=say,
    )
    record = bootstrap(registry, ApprovalLog.beside(registry), version=result.version.version)
    say(
        f"BOOTSTRAP approval recorded: v{record.version} is in production without human review "
        f"(test F1 {result.test.f1:.3f}). Promote a reviewed model before real use."
    )
    return record.version


def bootstrap_profile(samples: int | None) -> TrainConfig:
    """The quick profile, on ``samples`` training tweets if given."""
    profile = quick_profile()
    return profile if samples is None else replace(profile, max_samples=samples)


def start_worker(settings: Settings, port: int, say: Say) -> str:
    """Start `triage worker` in the background with a pid file, so `triage stack down` stops it too."""
    url = f"http://{settings.stack.host}:{port}"
    start_app(
        settings,
        WORKER,
        ["worker", "--web-port", str(port)],
        health_url=f"{url}/healthz",
        port=port,
        port_hint="choose another with --worker-port",
        env=dict(os.environ),
        say=say,
        timeout_s=180,
    )
    say(f"worker ready: {url}/healthz, metrics at {url}/metrics")
    return url


def start_monitor(settings: Settings, say: Say) -> str:
    """Start `triage monitor` in the background (drift, accuracy, alerts). Retraining requests are only recorded
    unless TRIAGE_RETRAIN__BACKEND says otherwise: a full retraining would compete with the demo for the CPU."""
    env = dict(os.environ)
    env.setdefault(env_name(("retrain", "backend")), "record-only")
    url = f"http://{settings.stack.host}:{settings.monitor.web_port}"
    start_app(
        settings,
        MONITOR,
        ["monitor"],
        health_url=f"{url}/healthz",
        port=settings.monitor.web_port,
        port_hint=f"set {env_name(('monitor', 'web_port'))}",
        env=env,
        say=say,
        timeout_s=600,  # the first start calibrates the detectors (about a minute, cached afterwards)
    )
    say(f"monitor ready: {url}/healthz — alerts: triage alerts list")
    return url


def replay(
    settings: Settings, csv: Path, *, rate: float, limit: int | None, say: Say
) -> tuple[LatencyReport, datetime]:
    """Publish the file at ``rate`` while watching each tweet's scored event come back (stored, then published)."""
    source = CsvTweetSource(csv, text_column="text", id_column="id", limit=limit)
    summary = source.validate()
    say(f"replaying {summary.rows} tweets from {csv.name} at {rate:.0f} tweets/s")
    started = utc_now()
    events = list(source.events())
    timeout_s = max(120.0, 4 * len(events) / rate)
    return asyncio.run(publish_and_observe(settings, events, rate=rate, timeout_s=timeout_s)), started


SCORED_METRIC = 'triage_worker_tweets_total{outcome="scored"}'


def summarise(
    settings: Settings, latency: LatencyReport, since: datetime, worker_url: str, scored_before: float, timeout_s: float
) -> DemoSummary:
    """Wait until the worker has stored the replayed tweets, then read them once; latency as observed on the
    scored events (each is published only after its prediction is stored)."""
    published = latency.offered
    deadline = time.monotonic() + timeout_s
    while _metric(worker_url, SCORED_METRIC) < scored_before + published and time.monotonic() < deadline:
        time.sleep(1.0)  # the worker's own counter is cheap to poll; the store is read once below
    records = _stored_since(settings, since)
    while len(records) < published and time.monotonic() < deadline:  # re-deliveries can run the counter ahead
        time.sleep(1.0)
        records = _stored_since(settings, since)
    return DemoSummary(
        published=published,
        stored=len(records),
        labels=dict(Counter(r.label for r in records)),
        dead_letters=int(_metric(worker_url, "triage_worker_dead_letters_total")),
        throughput=latency.throughput,
        p50_s=latency.p50_s,
        p99_s=latency.p99_s,
        offered_rate=latency.offered_rate or 0.0,
        kept_up=latency.kept_up,
        verdict=latency.verdict(),
        model_version=Counter(r.model_version for r in records).most_common(1)[0][0] if records else "-",
        worker_url=worker_url,
    )


def _stored_since(settings: Settings, since: datetime) -> list[PredictionRecord]:
    """What the worker stored since ``since``; nothing while it has not created its container yet (any other store
    error reaches the user: the summary must never report "0 stored" for a store it could not read)."""
    try:
        with PredictionReader.open(settings) as reader:
            items = [PredictionRecord.from_item(item) for item in reader.iter_items()]
    except ContainerMissing:
        return []
    return [r for r in items if r.scored_at >= since]


def _metric(url: str, name: str) -> float:
    try:
        text = httpx.get(f"{url}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def run_demo(
    settings: Settings,
    *,
    rate: float,
    limit: int | None,
    worker_port: int,
    say: Say,
    bootstrap_samples: int | None = None,
) -> DemoSummary:
    StackManager(settings).up(on_event=lambda line: say(f"  {line}"))
    version = ensure_production_model(settings, say, bootstrap_samples=bootstrap_samples)
    worker_url = start_worker(settings, worker_port, say)
    monitor_url = start_monitor(settings, say)
    serving = start_serving(settings, say)
    say(f"scoring API: {serving.api}/docs   relief dashboard: {serving.dashboard}   (both live during the replay)")

    [csv] = pull(DISASTER_TWEETS, data_dir=settings.data.data_dir, mirror_dir=settings.data.mirror_dir)
    scored_before = _metric(worker_url, SCORED_METRIC)
    processes = stack_processes(settings)
    cpu_before = CpuSnapshot.take(processes)
    latency, since = replay(settings, csv, rate=rate, limit=limit, say=say)
    say(f"published {latency.offered}; counting what the worker stored (model v{version})")
    summary = summarise(settings, latency, since, worker_url, scored_before, timeout_s=60.0)
    cpu = CpuPerTweet.between(cpu_before, CpuSnapshot.take(processes), summary.stored)
    return replace(summary, api_url=serving.api, dashboard_url=serving.dashboard, monitor_url=monitor_url, cpu=cpu)
