"""The monitor's plain logic between the Faust edge and the stores: drift, accuracy, alerts, retraining.

Everything here is synchronous and thread-safe (one lock): the Faust worker calls it through
``asyncio.to_thread`` so Cosmos round trips and detector updates never block its event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tweet_triage.availability import Availability
from tweet_triage.clock import utc_now
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.errors import ModelError
from tweet_triage.model.approval_gate import ApprovalGate, gate_for
from tweet_triage.model.package import DriftReference, PackageMeta
from tweet_triage.model.registry import PRODUCTION, RegistryReader
from tweet_triage.monitoring.accuracy import AccuracyMonitor
from tweet_triage.monitoring.alerts.center import AlertCenter, Raised
from tweet_triage.monitoring.alerts.records import AlertDraft, Evidence
from tweet_triage.monitoring.drift.alibi_engine import OUTPUT_TEST, embedding_detector, output_detector
from tweet_triage.monitoring.drift.detector import DetectorSpec
from tweet_triage.monitoring.drift.monitor import DriftMonitor, DriftSignal, in_sample
from tweet_triage.monitoring.drift.scope import ScopeSettings, ScopeShareDetector
from tweet_triage.monitoring.feedback_store import Comparison, FeedbackRecord, FeedbackStorage, compare
from tweet_triage.monitoring.metrics import MonitorMetrics
from tweet_triage.monitoring.retrain.policy import RetrainTrigger, TriggerKind
from tweet_triage.monitoring.retrain.service import RetrainOutcome, RetrainService
from tweet_triage.settings import MonitorSettings, Settings
from tweet_triage.store.records import PredictionRecord

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PredictionLookup = Callable[[str], PredictionRecord | None]


@dataclass(frozen=True)
class ScoredOutcome:
    observed: int
    skipped: int
    signals: list[DriftSignal]
    unusable: list[tuple[ScoredEvent, str]] = field(default_factory=list)  # events to dead-letter, with why


@dataclass(frozen=True)
class FeedbackChange:
    """What one feedback event did to the stored label of its (tweet, annotator)."""

    record: FeedbackRecord  # the label stored now
    comparison: Comparison

    @property
    def counted(self) -> bool:
        """Only a new or changed label moves the accuracy window; repeats and older copies are ignored."""
        return self.comparison in ("new", "changed")


def detector_specs(monitor: MonitorSettings) -> tuple[DetectorSpec, DetectorSpec]:
    embedding = DetectorSpec(monitor.engine, monitor.ert, monitor.window_size, monitor.n_bootstraps, monitor.seed)
    output = DetectorSpec(
        OUTPUT_TEST, monitor.ert, monitor.output_window_size, monitor.output_n_bootstraps, monitor.seed
    )
    return embedding, output


def build_drift_monitor(settings: Settings, version: str, package_dir: Path, *, progress: bool = False) -> DriftMonitor:
    """Detectors for one model package, calibrated from its drift reference (thresholds cached on disk)."""
    meta = PackageMeta.read(package_dir)
    reference = DriftReference.load(package_dir)
    cache = settings.monitor.resolved_thresholds_dir(settings.stack)
    embedding_spec, output_spec = detector_specs(settings.monitor)
    return DriftMonitor(
        version,
        meta.labels,
        embedding_detector(reference.embeddings, embedding_spec, cache, progress=progress),
        output_detector(reference.probabilities, output_spec, cache, progress=progress),
        confirm_updates=settings.monitor.confirm_updates,
        embedding_dim=int(reference.embeddings.shape[1]),
        scope=scope_detector(settings.monitor, meta),
    )


def scope_detector(monitor: MonitorSettings, meta: PackageMeta) -> ScopeShareDetector | None:
    """The out-of-scope share detector, for packages that know their training languages."""
    if not meta.languages:
        return None
    return ScopeShareDetector(
        ScopeSettings(monitor.scope_window_size, monitor.scope_baseline_share, monitor.scope_alpha)
    )


class MonitorRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: RegistryReader,
        center: AlertCenter,
        feedback: FeedbackStorage,
        predictions: PredictionLookup,
        retrain: RetrainService,
        metrics: MonitorMetrics | None = None,
        clock: Clock = utc_now,
        gate: ApprovalGate | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or MonitorMetrics()
        self._registry = registry
        self._gate = gate  # None: the MLflow registry's, built on first use (only model refreshes need it)
        self._center = center
        self._feedback = feedback
        self._predictions = predictions
        self._retrain = retrain
        self._clock = clock
        self._lock = threading.RLock()
        self.drift: DriftMonitor | None = None
        self.restored = False
        self.store = Availability(
            "the results store (feedback, alerts)", on_change=lambda up: self.metrics.store_available.set(int(up))
        )
        cfg = settings.monitor
        self.accuracy = AccuracyMonitor(
            window=cfg.accuracy_window, min_feedback=cfg.accuracy_min_feedback, threshold=cfg.accuracy_threshold
        )

    def _approvals(self) -> ApprovalGate:
        if self._gate is None:
            self._gate = gate_for(self._registry)
        return self._gate

    @property
    def state_dir(self) -> Path:
        return self.settings.monitor.resolved_state_dir(self.settings.stack) / "drift"

    # ---- model ------------------------------------------------------------------------------------------------

    def refresh_model(self) -> bool:
        """Follow the production alias to approved versions only (the worker scores with nothing else);
        (re)configure the detectors when it moved. True if it changed."""
        production = self._registry.find(PRODUCTION)
        if production is None:
            raise ModelError("no production model yet; the monitor waits for one")
        if self.drift is None or self.drift.model_version != production.version:
            self._approvals().require(production.version, what=f"monitor v{production.version}")
        with self._lock:
            if self.drift is not None and self.drift.model_version == production.version:
                return False
            if self.drift is not None:
                self.drift.save(self.state_dir)
                log.warning("production moved to v%s: reconfiguring drift detectors", production.version)
        monitor = build_drift_monitor(self.settings, production.version, self._registry.download(production))
        restored = monitor.restore(self.state_dir)
        with self._lock:
            self.drift, self.restored = monitor, restored
            self.metrics.model_version.set(float(production.version))
        self.accuracy.load(
            self._feedback.recent(predicted_version=production.version, limit=self.settings.monitor.accuracy_window)
        )
        return True

    def save_state(self) -> None:
        with self._lock:
            if self.drift is not None:
                self.drift.save(self.state_dir)

    # ---- scored tweets ----------------------------------------------------------------------------------------

    def observe_scored(self, events: Sequence[ScoredEvent]) -> ScoredOutcome:
        """Feed a batch to the detectors (CPU only, never retried: a tweet is observed once)."""
        signals: list[DriftSignal] = []
        unusable: list[tuple[ScoredEvent, str]] = []
        observed = skipped = 0
        with self._lock:
            drift = self.drift
            if drift is None:
                raise ModelError("drift detectors are not configured yet")
            for event in events:
                vector = event.vector
                if event.model_version != drift.model_version or vector is None:
                    skipped += 1
                    continue
                problem = drift.check(vector, event.probabilities)
                if problem is not None:
                    unusable.append((event, problem))
                    continue
                started = time.perf_counter()
                sampled = in_sample(event.id, self.settings.monitor.observe_every)
                signals += drift.observe(vector, event.probabilities, event.out_of_scope, sampled=sampled)
                self.metrics.update_seconds.observe(time.perf_counter() - started)
                observed += 1
            for name, reading in drift.last_readings.items():
                self.metrics.statistic.labels(name).set(reading.statistic)
                self.metrics.threshold.labels(name).set(reading.threshold)
        self.metrics.scored.labels("observed").inc(observed)
        self.metrics.scored.labels("other_model").inc(skipped)
        self.metrics.scored.labels("dead_lettered").inc(len(unusable))
        return ScoredOutcome(observed, skipped, signals, unusable)

    def report_drift(self, signals: Sequence[DriftSignal]) -> list[Raised]:
        """Alert (deduplicated) and request a retraining for new incidents; safe to retry after a store error."""
        raised = [self._raise(self._drift_draft(signal)) for signal in signals]
        for result in raised:
            if result.new:
                self._request_retrain(
                    TriggerKind.DRIFT, result.alert.title, result.alert.model_version, result.alert.id
                )
        return raised

    def _drift_draft(self, signal: DriftSignal) -> AlertDraft:
        reading = signal.reading
        what = {
            "embedding": "The tweets look different from what the model was trained on",
            "output": "The model's answers changed (emergency rate or confidence)",
        }.get(reading.detector, f"Detector {reading.detector} fired")
        return AlertDraft(
            kind="drift",
            severity="warning",
            title=f"Drift: {what.lower()}",
            summary=(
                f"{what}: {reading.detector} statistic {reading.statistic:.4g} above its threshold "
                f"{reading.threshold:.4g} for {self.settings.monitor.confirm_updates} tweets in a row (window "
                f"{signal.window_size} tweets). Look at recent tweets for a new topic or place, watch accuracy on "
                "feedback, and review the retrained candidate (docs/runbook.md#drift)."
            ),
            model_version=signal.model_version,
            evidence=Evidence(
                source=reading.detector,
                statistic=reading.statistic,
                threshold=reading.threshold,
                window=signal.window_size,
                at=self._clock(),
                observed=signal.observed,
            ),
            details={"detector_time": reading.t, "engine": self.settings.monitor.engine},
        )

    # ---- feedback ---------------------------------------------------------------------------------------------

    def store_feedback(self, event: FeedbackEvent) -> FeedbackChange:
        """Keep one label per (tweet, annotator), the latest by the time it was given: a new or changed label is
        joined with the stored prediction and upserted; a repeat or an older copy changes nothing (safe to retry)."""
        existing = self._feedback.get(event.tweet_id, event.annotator)
        comparison = compare(existing, event)
        if existing is not None and comparison in ("repeat", "older"):
            self.metrics.feedback.labels(comparison).inc()
            return FeedbackChange(existing, comparison)
        record = FeedbackRecord.join(event, self._predictions(event.tweet_id), self._clock())
        self._feedback.save(record)
        self.metrics.feedback.labels("stored" if record.predicted_label else "no_prediction").inc()
        return FeedbackChange(record, comparison)

    def judge_feedback(self, change: FeedbackChange) -> AlertDraft | None:
        """Count a new or changed label in its model's rolling accuracy (CPU only; a changed label replaces the
        person's earlier one)."""
        if not change.counted:
            return None
        with self._lock:
            reading, draft = self.accuracy.observe(change.record, self._clock())
        if reading is not None:
            self.metrics.accuracy.labels(reading.model_version).set(reading.accuracy)
        return draft

    def deliver_pending(self) -> int:
        """Send the alerts whose webhook message is still pending (after a crash or a failed round)."""
        return len(self._center.deliver_pending())

    def report_accuracy(self, draft: AlertDraft) -> Raised:
        result = self._raise(draft)
        if result.new:
            self._request_retrain(TriggerKind.ACCURACY, result.alert.title, draft.model_version, result.alert.id)
        return result

    # ---- retraining -------------------------------------------------------------------------------------------

    def on_schedule(self) -> RetrainOutcome | None:
        return self._request_retrain(TriggerKind.SCHEDULE, "weekly retraining", self._current_version(), None)

    def _request_retrain(
        self, kind: TriggerKind, reason: str, model_version: str | None, caused_by: str | None
    ) -> RetrainOutcome | None:
        trigger = RetrainTrigger(kind=kind, reason=reason, requested_by="monitor")
        try:
            outcome = self._retrain.request(trigger, model_version=model_version, caused_by=caused_by)
        except Exception:  # a failed submission is recorded on the request; monitoring goes on
            log.exception("retraining request (%s) failed", kind)
            self.metrics.retrains.labels("failed").inc()
            return None
        self.metrics.retrains.labels("started" if outcome.decision.allowed else "refused").inc()
        return outcome

    def _raise(self, draft: AlertDraft) -> Raised:
        result = self._center.raise_alert(draft)
        self.metrics.alerts.labels(draft.kind, str(result.new).lower()).inc()
        return result

    def _current_version(self) -> str | None:
        with self._lock:
            return self.drift.model_version if self.drift else None
