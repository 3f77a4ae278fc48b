"""Prometheus metrics of the stream worker, in their own registry (no process-global state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tweet_triage.stream.scoring import BatchOutcome

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.tweets = Counter("triage_worker_tweets", "Messages handled, by outcome", ["outcome"], registry=r)
        self.dead_letters = Counter(
            "triage_worker_dead_letters", "Messages sent to the DLQ, by reason", ["reason"], registry=r
        )
        self.duplicates = Counter(
            "triage_worker_duplicates",
            "Copies of a tweet left out of a batch (the copy with the latest created_at was scored)",
            registry=r,
        )
        self.fields_set_aside = Counter(
            "triage_worker_fields_set_aside",
            "Optional fields whose value could not be used (kept in the event's extra), by field",
            ["field"],
            registry=r,
        )
        self.batch_size = Histogram(
            "triage_worker_batch_size",
            "Messages per micro-batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.scoring_seconds = Histogram(
            "triage_worker_scoring_seconds", "Model time per batch", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.write_seconds = Histogram(
            "triage_worker_store_write_seconds", "Results-store time per batch", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.end_to_end_seconds = Histogram(
            "triage_worker_publish_to_stored_seconds",
            "Producer publish time to prediction stored, per tweet",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.store_retries = Counter(
            "triage_worker_store_retries",
            "Results-store write rounds that failed for a store-wide reason, by cause (HTTP status or connection)",
            ["cause"],
            registry=r,
        )
        self.publish_retries = Counter(
            "triage_worker_publish_retries",
            "Broker sends that failed for a broker-wide reason and were retried, by cause",
            ["cause"],
            registry=r,
        )
        self.available = Gauge(
            "triage_worker_dependency_available",
            "1 while the dependency answers, 0 while the worker pauses for it",
            ["dependency"],
            registry=r,
        )
        self.outages = Counter(
            "triage_worker_dependency_outages", "Times a dependency became unavailable", ["dependency"], registry=r
        )
        self.model_version = Gauge("triage_worker_model_version", "Model version serving (as a number)", registry=r)
        self.model_swaps = Counter("triage_worker_model_swaps", "Hot model swaps", registry=r)

    def observe(self, outcome: BatchOutcome) -> None:
        self.tweets.labels("scored").inc(outcome.scored)
        self.tweets.labels("dead_lettered").inc(outcome.dead_lettered)
        for reason in outcome.rejected_reasons:
            self.dead_letters.labels(str(reason)).inc()
        self.duplicates.inc(outcome.duplicates)
        for name in outcome.set_aside:
            self.fields_set_aside.labels(name).inc()
        self.batch_size.observe(outcome.received)
        if outcome.scored:
            self.scoring_seconds.observe(outcome.scoring_seconds)
            self.write_seconds.observe(outcome.write_seconds)
        for latency in outcome.publish_to_stored_seconds:
            self.end_to_end_seconds.observe(max(latency, 0.0))

    def dependency_changed(self, dependency: str, available: bool) -> None:
        self.available.labels(dependency).set(1 if available else 0)
        if not available:
            self.outages.labels(dependency).inc()

    def set_model(self, version: str) -> None:
        self.model_version.set(float(version) if version.isdigit() else -1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
