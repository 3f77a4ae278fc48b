"""Prometheus metrics of the monitor, in their own registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class MonitorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.scored = Counter("triage_monitor_scored", "Scored events, by outcome", ["outcome"], registry=r)
        self.feedback = Counter("triage_monitor_feedback", "Feedback events, by outcome", ["outcome"], registry=r)
        self.statistic = Gauge("triage_monitor_drift_statistic", "Latest statistic", ["detector"], registry=r)
        self.threshold = Gauge("triage_monitor_drift_threshold", "Current threshold", ["detector"], registry=r)
        self.update_seconds = Histogram(
            "triage_monitor_update_seconds",
            "Detector time per scored tweet (all detectors)",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
            registry=r,
        )
        self.alerts = Counter(
            "triage_monitor_alerts", "Alerts raised, by kind and new/repeat", ["kind", "new"], registry=r
        )
        self.accuracy = Gauge("triage_monitor_accuracy", "Rolling accuracy on feedback", ["model_version"], registry=r)
        self.retrains = Counter(
            "triage_monitor_retrain_requests", "Retraining requests, by outcome", ["outcome"], registry=r
        )
        self.model_version = Gauge("triage_monitor_model_version", "Model version monitored", registry=r)
        self.store_available = Gauge(
            "triage_monitor_store_available",
            "1 while the results store answers, 0 while the monitor pauses",
            registry=r,
        )
        self.store_available.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
