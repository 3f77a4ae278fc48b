"""The monitor's Faust worker: a thin edge around :class:`~tweet_triage.monitoring.runtime.MonitorRuntime`.

* agent on ``tweets-scored`` (own consumer group): micro-batches into the drift detectors;
* agent on ``tweets-feedback``: each label stored in Cosmos ``feedback`` (one per tweet and annotator, the latest
  wins, repeats ignored), joined with its prediction, counted;
* malformed messages on either topic go to ``tweets-dlq`` with the reason (nothing is dropped silently), and so do
  feedback events the store refuses for themselves; a store that is away pauses the agent instead
  (:mod:`~tweet_triage.monitoring.store_calls`);
* timers: save detector state every ``save_every_s``; follow the ``production`` alias every ``model_poll_s``; send
  alerts whose webhook message is still pending every ``alerts.redeliver_every_s`` (the outbox);
* crontab: the weekly retraining slot (``weekly_day`` ``weekly_hour`` UTC; the policy makes it once per slot);
* ``/healthz`` and ``/metrics`` on its own web port (127.0.0.1 by default).

Delivery is at-least-once like the scoring worker. A tweet re-delivered after a crash is observed twice by the
detectors (state is saved on a timer, offsets are committed on Faust's schedule); for a window statistic over
thousands of tweets that is harmless, and it is why a restart is never silent: the restored detector time is logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import faust

from tweet_triage.broker.faust_app import fail_stop, faust_app, hold, inbound_message, release
from tweet_triage.broker.topics import ensure_topics
from tweet_triage.clock import utc_now
from tweet_triage.contracts.dead_letters import DeadLetter
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.contracts.tweets import Rejection, RejectReason
from tweet_triage.errors import InvalidMessage, ItemRefused, StoreError, TriageError
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.alerts.center import alert_center
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.feedback_store import FeedbackStore
from tweet_triage.monitoring.retrain.backends import backend_for
from tweet_triage.monitoring.retrain.policy import RetrainPolicy
from tweet_triage.monitoring.retrain.service import RetrainService
from tweet_triage.monitoring.runtime import MonitorRuntime
from tweet_triage.monitoring.store_calls import until_stored
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import recreate_schema
from tweet_triage.store.reader import PredictionReader

log = logging.getLogger(__name__)


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
    cfg = settings.monitor
    app = faust_app(
        settings,
        group=cfg.consumer_group,
        partitions=options.partitions,
        datadir=cfg.resolved_state_dir(settings.stack) / "faust",
        web_host=options.web_host,
        web_port=cfg.web_port,
    )
    ready = asyncio.Event()
    _add_agents(app, settings, runtime, options, ready)
    _add_timers(app, settings, runtime, ready)
    _add_pages(app, runtime)
    return app


def _add_agents(
    app: faust.App, settings: Settings, runtime: MonitorRuntime, options: MonitorOptions, ready: asyncio.Event
) -> None:
    """Each agent acknowledges an event only once it was handled or dead-lettered; anything else stops the process
    without acknowledging (see :mod:`tweet_triage.broker.faust_app`), so a failing dead-letter send loses no event."""
    kafka = settings.kafka
    dlq = app.topic(kafka.topic_dlq, key_type=bytes, value_type=bytes)
    calls = _StoreCalls(settings, runtime)
    _add_drift_agent(app, app.topic(kafka.topic_scored, key_type=bytes, value_type=bytes), dlq, calls, options, ready)
    _add_feedback_agent(app, app.topic(kafka.topic_feedback, key_type=bytes, value_type=bytes), dlq, calls, ready)


@dataclass(frozen=True)
class _StoreCalls:
    settings: Settings
    runtime: MonitorRuntime

    def stored(self, what: str, call: Any, argument: Any) -> Any:
        """``call(argument)`` once the store answers (the agent pauses while it is away)."""
        repair = functools.partial(recreate_schema, self.settings)
        return until_stored(what, call, argument, availability=self.runtime.store, repair=repair)

    async def alert(self, what: str, call: Any, argument: Any) -> None:
        try:
            await self.stored(what, call, argument)
        except ItemRefused as exc:  # our own document refused: say so loudly, but never stop watching the stream
            log.error("%s refused by the store: %s", what, exc)


def _add_drift_agent(
    app: faust.App, scored: Any, dlq: Any, calls: _StoreCalls, options: MonitorOptions, ready: asyncio.Event
) -> None:
    runtime = calls.runtime

    @app.agent(scored)
    async def watch_drift(stream: Any) -> None:
        await ready.wait()
        async for events in stream.take_events(options.batch_size, within=options.batch_window_s):
            hold(events)
            try:
                await observe(events)
            except Exception:
                fail_stop("the drift monitor")
            await release(stream, events)

    async def observe(events: Sequence[Any]) -> None:
        batch = []
        by_id: dict[str, Any] = {}
        for event in events:
            try:
                parsed = ScoredEvent.from_json(event.message.value)
            except InvalidMessage as exc:
                await _dead_letter(dlq, event, Rejection(RejectReason.INVALID_EVENT, str(exc)))
                continue
            batch.append(parsed)
            by_id[parsed.id] = event
        outcome = await asyncio.to_thread(runtime.observe_scored, batch)
        for unusable, why in outcome.unusable:
            await _dead_letter(dlq, by_id[unusable.id], Rejection(RejectReason.INVALID_EVENT, why), unusable.id)
        if outcome.signals:
            await calls.alert("drift alert", runtime.report_drift, outcome.signals)


def _add_feedback_agent(app: faust.App, feedback: Any, dlq: Any, calls: _StoreCalls, ready: asyncio.Event) -> None:
    runtime = calls.runtime

    @app.agent(feedback)
    async def count_feedback(stream: Any) -> None:
        await ready.wait()
        async for event in stream.events():
            hold([event])
            try:
                await take_feedback(event)
            except Exception:
                fail_stop("the feedback counter")
            await release(stream, [event])

    async def take_feedback(event: Any) -> None:
        try:
            parsed = FeedbackEvent.from_json(event.message.value)
        except InvalidMessage as exc:
            runtime.metrics.feedback.labels("dead_lettered").inc()
            await _dead_letter(dlq, event, Rejection(RejectReason.INVALID_EVENT, str(exc)))
            return
        try:
            change = await calls.stored("feedback", runtime.store_feedback, parsed)
        except ItemRefused as exc:  # this one event's fault: dead-letter it, never block the partition
            runtime.metrics.feedback.labels("dead_lettered").inc()
            await _dead_letter(dlq, event, Rejection(RejectReason.STORE_REJECTED, str(exc)), parsed.tweet_id)
            return
        draft = runtime.judge_feedback(change)
        if draft is not None:
            await calls.alert("accuracy alert", runtime.report_accuracy, draft)


def _add_timers(app: faust.App, settings: Settings, runtime: MonitorRuntime, ready: asyncio.Event) -> None:
    cfg = settings.monitor

    async def redeliver() -> None:
        try:
            await asyncio.to_thread(runtime.deliver_pending)
        except StoreError as exc:  # the next round tries again
            log.warning("pending alerts not delivered yet: %s", exc)

    @app.task()  # type: ignore[untyped-decorator]
    async def configure() -> None:
        """Consume nothing until the production model's detectors exist (calibration can take a minute)."""
        while True:
            try:
                await asyncio.to_thread(runtime.refresh_model)
                ready.set()
                break
            except TriageError as exc:  # no production model yet, store away, unusable drift reference, ...
                log.warning("monitor not ready: %s", exc)
            await asyncio.sleep(cfg.model_poll_s)  # retry interval until the detectors can be configured
        await redeliver()  # whatever a crash left undelivered goes out now, not a timer interval later

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

    @app.timer(interval=settings.alerts.redeliver_every_s)  # type: ignore[untyped-decorator]
    async def redeliver_alerts() -> None:
        await redeliver()

    @app.crontab(runtime_weekly_cron(settings), timezone=UTC)
    async def weekly_retrain() -> None:
        outcome = await asyncio.to_thread(runtime.on_schedule)
        log.warning("weekly retraining: %s", outcome.decision.reason if outcome else "request failed")


async def _dead_letter(dlq: Any, event: Any, rejection: Rejection, tweet_id: str | None = None) -> None:
    """Send the message of ``event`` to the dead-letter topic and wait for the broker's acknowledgement."""
    letter = DeadLetter.for_message(inbound_message(event), rejection, tweet_id=tweet_id)
    key, value = letter.to_message()
    delivery = await dlq.send(key=key, value=value)
    await delivery


def _add_pages(app: Any, runtime: MonitorRuntime) -> None:
    @app.page("/healthz")  # type: ignore[untyped-decorator]
    async def healthz(web: Any, request: Any) -> Any:
        drift = runtime.drift
        status = "starting" if drift is None else "ok" if runtime.store.available else "store_unavailable"
        body = {
            "status": status,
            "model_version": drift.model_version if drift else None,
            "observed": drift.observed if drift else 0,
            "restored_state": runtime.restored,
            "store": runtime.store.health(),
            "checked_at": utc_now().isoformat(),
        }
        return web.json(body, status=503 if drift is None else 200)

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def prometheus(web: Any, request: Any) -> Any:
        return web.bytes(runtime.metrics.render(), content_type="text/plain; version=0.0.4")


def runtime_weekly_cron(settings: Settings) -> str:
    return RetrainPolicy(settings.retrain).weekly_cron()


def run_monitor(settings: Settings, options: MonitorOptions, *, loglevel: str = "info") -> None:
    """Create the topics if needed, then run the monitor until stopped (SIGINT/SIGTERM); state is saved on the way."""
    import torch

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
