"""Prometheus metrics of one API process, in their own registry (no process-global state).

With several server processes each has its own counters; scrape every process (or every replica) — the usual
Prometheus set-up for pre-forked servers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


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
        self.batch_tweets = Histogram(
            "triage_api_batch_tweets",
            "Tweets per model call (concurrent requests are scored together)",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_requests = Histogram(
            "triage_api_batch_requests", "Requests per model call", buckets=_BATCH_BUCKETS, registry=r
        )

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, requests: int, tweets: int) -> None:
        self.batch_requests.observe(requests)
        self.batch_tweets.observe(tweets)

    def set_model(self, version: str) -> None:
        self.model_version.set(float(version) if version.isdigit() else -1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request by route and status and times it. Plain ASGI: Starlette's ``BaseHTTPMiddleware``
    (``@app.middleware("http")``) costs a task and a memory stream per request, a fifth of a small request's time."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts a response

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")  # the router puts the matched route in the scope
            self.metrics.observe(path, status, time.perf_counter() - started)
