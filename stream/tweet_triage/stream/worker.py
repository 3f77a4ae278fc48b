"""The Faust worker: a thin edge around :class:`~tweet_triage.stream.scoring.ScoringService`.

* consumes ``tweets`` as raw bytes (parsing is ours, so malformed messages reach the dead-letter topic, not a crash);
* cuts micro-batches with ``take_events(n, within=t)`` and pipelines them (:mod:`~tweet_triage.stream.batch_pipeline`):
  batch N+1 is scored while batch N is stored and published. Faust would acknowledge a batch as soon as the loop asks
  for the next one, so the edge holds one extra reference on every message and releases it only after the batch's
  own delivery (predictions stored, scored and dead-letter events acknowledged by the broker), strictly in order —
  at-least-once end to end, with idempotent upserts making re-deliveries harmless;
* every decision about a batch (what is dead-lettered, what pauses, what stops) is the service's; whatever it raises
  is a failure of the process or a dependency, so the worker exits without acknowledging and the group re-delivers;
* while the store or the broker is away the batch waits (``/healthz`` says which, ``/metrics`` counts it);
* polls the ``production`` alias on a timer and hot-swaps the model;
* serves ``/healthz`` and ``/metrics`` (Prometheus) on its web port (127.0.0.1 by default).

Exactly-once (Kafka transactions) is deliberately not used: Event Hubs Standard and the local broker lack it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import faust

from tweet_triage.availability import Availability
from tweet_triage.broker.faust_app import fail_stop, faust_app, hold, inbound_message, release
from tweet_triage.broker.kafka_sender import KafkaSender
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.clock import utc_now
from tweet_triage.errors import ModelError
from tweet_triage.model.places import gazetteer
from tweet_triage.model.registry import Registry
from tweet_triage.model.watcher import ModelWatcher, Swap
from tweet_triage.monitoring.alerts.unapproved import UnapprovedMoveAlerts
from tweet_triage.retry import RetryNotice, RetryPolicy
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import SHADOW
from tweet_triage.store.writer import PredictionWriter
from tweet_triage.stream.batch_pipeline import BatchPipeline
from tweet_triage.stream.metrics import WorkerMetrics
from tweet_triage.stream.scoring import BatchOutcome, ScoringService, Topics
from tweet_triage.stream.shadow import DiscardingPublisher, shadow_item

log = logging.getLogger(__name__)

STORE: Final = "store"
BROKER: Final = "broker"


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 64
    batch_window_s: float = 0.2
    model_poll_s: float = 5.0
    concurrency: int = 1  # agent instances (batches in flight); 2 measured no faster on 2 cores, see the README
    web_host: str = "127.0.0.1"
    web_port: int = 16066
    partitions: int = 2
    scoring_threads: int = 2  # cores ONNX Runtime may use; the event loop (store, publish) shares the machine
    shadow_version: str | None = None  # score with this fixed version into `shadow`, publish nothing (see shadow.py)


class WorkerRuntime:
    """Everything the agent needs, opened once when the agent starts and closed when it stops."""

    def __init__(self, settings: Settings, options: WorkerOptions, metrics: WorkerMetrics) -> None:
        self.settings = settings
        self.options = options
        self.metrics = metrics
        self.store = Availability("the results store", on_change=lambda up: metrics.dependency_changed(STORE, up))
        self.broker = Availability("the Kafka broker", on_change=lambda up: metrics.dependency_changed(BROKER, up))
        for name in (STORE, BROKER):
            metrics.dependency_changed(name, available=True)
        policy = RetryPolicy.forever(on_retry=self._on_store_retry, on_recovered=self.store.on_recovered)
        self.broker_policy = RetryPolicy.forever(on_retry=self._on_broker_retry, on_recovered=self.broker.on_recovered)
        self.sender: KafkaSender | DiscardingPublisher
        if options.shadow_version is None:
            alerts = UnapprovedMoveAlerts(settings, reporter="stream worker")
            self.watcher = ModelWatcher(
                Registry(settings), threads=options.scoring_threads, on_swap=self._on_swap, on_unapproved=alerts
            )
            self.sender = KafkaSender(settings)
            self.writer = PredictionWriter(settings, policy=policy)
        else:
            self.watcher = ModelWatcher(
                Registry(settings), alias=options.shadow_version, threads=options.scoring_threads, on_swap=self._on_swap
            )
            self.sender = DiscardingPublisher()
            self.writer = PredictionWriter(settings, policy=policy, role=SHADOW, to_item=shadow_item)
        self.service: ScoringService | None = None
        self.last_batch_at: datetime | None = None
        self._lifecycle = asyncio.Lock()
        self._users = 0

    async def start(self) -> ScoringService:
        """Open the shared resources once, however many agent instances call this."""
        async with self._lifecycle:
            self._users += 1
            if self.service is None:
                await self._wait_for_model()
                await self.sender.start()
                await self.writer.open()
                await asyncio.to_thread(gazetteer)  # built once (about 1 s) before the first batch, off the loop
                kafka = self.settings.kafka
                self.service = ScoringService(
                    model_name=self.settings.mlflow.model_name,
                    predictor=lambda: self.watcher.current,
                    writer=self.writer,
                    publisher=self.sender,
                    topics=Topics(scored=kafka.topic_scored, dlq=kafka.topic_dlq),
                    broker_policy=self.broker_policy,
                )
            return self.service

    async def stop(self) -> None:
        async with self._lifecycle:
            self._users -= 1
            if self._users == 0 and self.service is not None:
                self.service = None
                await self.writer.close()
                await self.sender.stop()

    async def refresh_model(self) -> None:
        await asyncio.to_thread(self.watcher.try_refresh)

    async def _wait_for_model(self) -> None:
        """Consume nothing until a production model is loaded: tweets wait safely in the topic meanwhile."""
        while True:
            try:
                await asyncio.to_thread(self.watcher.refresh)
                return
            except ModelError as exc:
                log.warning("waiting for a production model: %s", exc)
            await asyncio.sleep(self.options.model_poll_s)  # retry interval while no model exists

    def _on_swap(self, swap: Swap) -> None:
        self.metrics.set_model(swap.current)
        if swap.previous is not None:
            self.metrics.model_swaps.inc()

    def _on_store_retry(self, notice: RetryNotice) -> None:
        self.metrics.store_retries.labels(notice.failure.cause).inc()  # the policy itself logs each retry
        self.store.on_retry(notice)

    def _on_broker_retry(self, notice: RetryNotice) -> None:
        self.metrics.publish_retries.labels(notice.failure.cause).inc()
        self.broker.on_retry(notice)

    def health(self) -> dict[str, Any]:
        """``starting`` (HTTP 503) until the model and the store are open; then ``ok``, or ``store_unavailable`` /
        ``broker_unavailable`` while a batch waits for that dependency, or ``unapproved`` when production moved to a
        version without an approval record and the worker keeps scoring with the approved one it has. All but
        ``starting`` answer 200 on ``/healthz``: the process is alive and waits or refuses on purpose, a liveness
        probe must not restart it; ``/readyz`` is 200 only for ``ok``."""
        problem = self.watcher.problem
        if not (self.watcher.ready and self.service is not None):
            status = "starting"
        elif not self.store.available:
            status = "store_unavailable"
        elif not self.broker.available:
            status = "broker_unavailable"
        elif problem:
            status = "unapproved"
        else:
            status = "ok"
        return {
            "status": status,
            "model_version": self.watcher.current.version if self.watcher.ready else None,
            "last_batch_at": self.last_batch_at.isoformat() if self.last_batch_at else None,
            "store": self.store.health(),
            "broker": self.broker.health(),
            "detail": problem,
        }


def build_app(settings: Settings, options: WorkerOptions) -> Any:
    """The Faust app with the scoring agent, the model-refresh timer and the web pages."""
    kafka = settings.kafka
    metrics = WorkerMetrics()
    runtime = WorkerRuntime(settings, options, metrics)
    app = faust_app(
        settings,
        group=kafka.consumer_group,
        partitions=options.partitions,
        datadir=settings.stack.state_dir / "faust",
        web_host=options.web_host,
        web_port=options.web_port,
        producer_acks=-1,
    )
    app.triage_runtime = runtime  # type: ignore[attr-defined]
    tweets = app.topic(kafka.topic_tweets, key_type=bytes, value_type=bytes)

    # Several agent instances share the topic's messages; Faust commits an offset only once every earlier message of
    # its partition is acknowledged, so batches finishing out of order never commit past an unstored tweet.
    @app.agent(tweets, concurrency=options.concurrency)
    async def score(stream: Any) -> None:
        service = await runtime.start()

        async def acknowledge(events: Sequence[Any]) -> None:
            await release(stream, events)

        def observed(outcome: BatchOutcome) -> None:
            metrics.observe(outcome)
            runtime.last_batch_at = utc_now()

        pipeline: BatchPipeline[Sequence[Any]] = BatchPipeline(service, acknowledge=acknowledge, on_outcome=observed)
        try:
            async for events in stream.take_events(options.batch_size, within=options.batch_window_s):
                hold(events)
                try:
                    await pipeline.push([inbound_message(event) for event in events], events)
                except Exception:
                    fail_stop("the worker")
            await pipeline.drain()
        except Exception:
            fail_stop("the worker")
        finally:
            await runtime.stop()

    @app.timer(interval=options.model_poll_s)  # type: ignore[untyped-decorator]
    async def refresh_model() -> None:
        await runtime.refresh_model()

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:  # liveness: alive, waiting or refusing on purpose
        body = runtime.health()
        return web.json(body, status=503 if body["status"] == "starting" else 200)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:  # readiness: scoring with what production should be
        body = runtime.health()
        return web.json(body, status=200 if body["status"] == "ok" else 503)

    @app.page("/metrics")
    async def prometheus(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

    return app


def run_worker(settings: Settings, options: WorkerOptions, *, loglevel: str = "info") -> None:
    """Create the topics if needed, then run the Faust worker until it is stopped (SIGINT/SIGTERM)."""
    asyncio.run(ensure_topics(settings, partitions=options.partitions))
    app = build_app(settings, options)
    worker = faust.Worker(app, loglevel=loglevel)
    for noisy in ("azure", "aiokafka", "mlflow"):  # per-request logs drown the worker's own
        logging.getLogger(noisy).setLevel(logging.WARNING)
    worker.execute_from_commandline()
