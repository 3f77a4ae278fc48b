"""The monitor's Faust worker: a thin edge around :class:`~tweet_triage.monitoring.runtime.MonitorRuntime`.

* agent on ``tweets-scored`` (own consumer group): micro-batches into the drift detectors;
* agent on ``tweets-feedback``: each label stored in Cosmos ``feedback``, joined with its prediction, counted;
* malformed messages on either topic go to ``tweets-dlq`` with the reason (nothing is dropped silently);
* timers: save detector state every ``save_every_s``; follow the ``production`` alias every ``model_poll_s``;
* crontab: the weekly retraining slot (``weekly_day`` ``weekly_hour`` UTC; the policy makes it once per slot);
* ``/healthz`` and ``/metrics`` on its own web port (127.0.0.1 by default).

Delivery is at-least-once like the scoring worker. A tweet re-delivered after a crash is observed twice by the
detectors (state is saved on a timer, offsets are committed on Faust's schedule); for a window statistic over
thousands of tweets that is harmless, and it is why a restart is never silent: the restored detector time is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tweet_triage.errors import StoreError, TriageError
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.alerts.center import alert_center
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.feedback_store import FeedbackStore
from tweet_triage.monitoring.retrain.backends import backend_for
from tweet_triage.monitoring.retrain.policy import RetrainPolicy
from tweet_triage.monitoring.retrain.service import RetrainService
from tweet_triage.monitoring.runtime import MonitorRuntime
from tweet_triage.settings import Settings
from tweet_triage.stream.dead_letters import DeadLetter
from tweet_triage.stream.events import Rejection, RejectReason
from tweet_triage.stream.exceptions import InvalidMessage
from tweet_triage.stream.faust_app import faust_app
from tweet_triage.stream.feedback import FeedbackEvent
from tweet_triage.stream.scored import ScoredEvent
from tweet_triage.stream.store.reader import PredictionReader

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A")


@dataclass(frozen=True)
class MonitorOptions:
    batch_size: int = 256
    batch_window_s: float = 1.0
    web_host: str = "127.0.0.1"
    partitions: int = 2


@contextmanager
def open_runtime(settings: Settings) -> Iterator[MonitorRuntime]:
    """The runtime with its stores open (closed on exit)."""
    with ExitStack() as stack:
        alerts = stack.enter_context(AlertStore.open(settings, create=True))
        feedback = stack.enter_context(FeedbackStore.open(settings, create=True))
        predictions = stack.enter_context(PredictionReader.open(settings))
        center = alert_center(settings, alerts)
        yield MonitorRuntime(
            settings,
            registry=Registry(settings),
            center=center,
            feedback=feedback,
            predictions=predictions.get,
            retrain=RetrainService(RetrainPolicy(settings.retrain), alerts, center, backend_for(settings)),
        )


def build_app(settings: Settings, runtime: MonitorRuntime, options: MonitorOptions) -> Any:
    kafka, cfg = settings.kafka, settings.monitor
    app = faust_app(
        settings,
        group=cfg.consumer_group,
        partitions=options.partitions,
        datadir=cfg.resolved_state_dir(settings.stack) / "faust",
        web_host=options.web_host,
        web_port=cfg.web_port,
    )
    scored = app.topic(kafka.topic_scored, key_type=bytes, value_type=bytes)
    feedback = app.topic(kafka.topic_feedback, key_type=bytes, value_type=bytes)
    dlq = app.topic(kafka.topic_dlq, key_type=bytes, value_type=bytes)
    ready = asyncio.Event()

    @app.agent(scored)
    async def watch_drift(stream: Any) -> None:
        await ready.wait()
        async for events in stream.take_events(options.batch_size, within=options.batch_window_s):
            batch = []
            for event in events:
                try:
                    batch.append(ScoredEvent.from_json(event.message.value))
                except InvalidMessage as exc:
                    await _dead_letter(dlq, event, exc)
            outcome = await asyncio.to_thread(runtime.observe_scored, batch)
            if outcome.signals:
                await until_stored("drift alert", runtime.report_drift, outcome.signals)

    @app.agent(feedback)
    async def count_feedback(stream: Any) -> None:
        await ready.wait()
        async for event in stream.events():
            try:
                parsed = FeedbackEvent.from_json(event.message.value)
            except InvalidMessage as exc:
                runtime.metrics.feedback.labels("dead_lettered").inc()
                await _dead_letter(dlq, event, exc)
                continue
            record = await until_stored("feedback", runtime.store_feedback, parsed)
            draft = runtime.judge_feedback(record)
            if draft is not None:
                await until_stored("accuracy alert", runtime.report_accuracy, draft)

    @app.task()  # type: ignore[untyped-decorator]
    async def configure() -> None:
        """Consume nothing until the production model's detectors exist (calibration can take a minute)."""
        while True:
            try:
                await asyncio.to_thread(runtime.refresh_model)
                ready.set()
                return
            except TriageError as exc:  # no production model yet, store away, unusable drift reference, ...
                log.warning("monitor not ready: %s", exc)
            await asyncio.sleep(cfg.model_poll_s)  # retry interval until the detectors can be configured

    @app.timer(interval=cfg.save_every_s)  # type: ignore[untyped-decorator]
    async def save_state() -> None:
        await asyncio.to_thread(runtime.save_state)

    @app.timer(interval=cfg.model_poll_s)  # type: ignore[untyped-decorator]
    async def follow_production() -> None:
        if ready.is_set():
            try:
                await asyncio.to_thread(runtime.refresh_model)
            except TriageError as exc:
                log.warning("model refresh failed: %s", exc)

    @app.crontab(runtime_weekly_cron(settings), timezone=UTC)
    async def weekly_retrain() -> None:
        outcome = await asyncio.to_thread(runtime.on_schedule)
        log.warning("weekly retraining: %s", outcome.decision.reason if outcome else "request failed")

    _add_pages(app, runtime)
    return app


async def until_stored(what: str, call: Callable[[A], T], argument: A) -> T:
    """Run a store operation in a thread until it succeeds: while Cosmos DB is away the stream pauses, nothing is
    skipped (like the scoring worker). Only store errors are retried; anything else is a bug and propagates."""
    wait = 1.0
    while True:
        try:
            return await asyncio.to_thread(call, argument)
        except StoreError as exc:
            log.warning("%s not stored yet (%s); retrying in %.0f s", what, exc, wait)
        await asyncio.sleep(wait)  # backoff while the store is unreachable
        wait = min(wait * 2, 30.0)


async def _dead_letter(dlq: Any, event: Any, error: InvalidMessage) -> None:
    message = event.message
    letter = DeadLetter.build(
        raw=message.value,
        rejection=Rejection(RejectReason.INVALID_EVENT, str(error)[:2000]),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
    )
    await dlq.send(key=message.key, value=letter.to_json())


def _add_pages(app: Any, runtime: MonitorRuntime) -> None:
    @app.page("/healthz")  # type: ignore[untyped-decorator]
    async def healthz(web: Any, request: Any) -> Any:
        drift = runtime.drift
        body = {
            "status": "ok" if drift is not None else "starting",
            "model_version": drift.model_version if drift else None,
            "observed": drift.observed if drift else 0,
            "restored_state": runtime.restored,
            "checked_at": datetime.now(UTC).isoformat(),
        }
        return web.json(body, status=200 if drift is not None else 503)

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def prometheus(web: Any, request: Any) -> Any:
        return web.bytes(runtime.metrics.render(), content_type="text/plain; version=0.0.4")


def runtime_weekly_cron(settings: Settings) -> str:
    return RetrainPolicy(settings.retrain).weekly_cron()


def run_monitor(settings: Settings, options: MonitorOptions, *, loglevel: str = "info") -> None:
    """Create the topics if needed, then run the monitor until stopped (SIGINT/SIGTERM); state is saved on the way."""
    import faust
    import torch

    from tweet_triage.stream.topics import ensure_topics

    torch.set_num_threads(1)  # detector updates are tiny tensor ops: one thread is faster than two spinning
    asyncio.run(ensure_topics(settings, partitions=options.partitions))
    settings.monitor.resolved_state_dir(settings.stack).mkdir(parents=True, exist_ok=True)
    with open_runtime(settings) as runtime:
        app = build_app(settings, runtime, options)
        worker = faust.Worker(app, loglevel=loglevel)
        for noisy in ("azure", "aiokafka", "mlflow"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        try:
            worker.execute_from_commandline()
        finally:
            runtime.save_state()
