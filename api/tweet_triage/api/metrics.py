"""Prometheus metrics of one API process, in their own registry (no process-global state).

With several server processes each has its own counters; scrape every process (or every replica) — the usual
Prometheus set-up for pre-forked servers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "triage_api_requests", "HTTP requests, by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "triage_api_request_seconds", "Request latency, by route", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.tweets = Counter("triage_api_tweets_scored", "Tweets scored by /v1/predict", registry=r)
        self.explanations = Counter("triage_api_explanations", "Explanations computed", registry=r)
        self.feedback = Counter("triage_api_feedback", "Feedback events published", registry=r)
        self.model_version = Gauge("triage_api_model_version", "Model version serving (as a number)", registry=r)
        self.model_swaps = Counter("triage_api_model_swaps", "Hot model swaps", registry=r)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def set_model(self, version: str) -> None:
        self.model_version.set(float(version) if version.isdigit() else -1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
