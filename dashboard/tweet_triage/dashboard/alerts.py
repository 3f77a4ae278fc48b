"""Open alerts for the dashboard, read through the monitoring loop's :class:`AlertStore` (the ``alerts`` container).

The dashboard only reads; it shows each alert's severity, title and plain-words summary. No alerts container yet (the
monitor creates it with its first alert) means nothing is open.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tweet_triage.clock import UtcDatetime
from tweet_triage.errors import ContainerMissing
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.settings import Settings

MAX_ALERTS = 50


class AlertView(BaseModel):
    """What the dashboard shows of one alert."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    kind: str
    severity: str
    title: str
    summary: str = ""
    created_at: UtcDatetime | None = None
    model_version: str | None = None


def read_open_alerts(settings: Settings, *, limit: int = MAX_ALERTS) -> list[AlertView]:
    """The newest open alerts, newest first."""
    try:
        with AlertStore.open(settings) as store:
            alerts = store.recent(status="open", limit=limit)
    except ContainerMissing:
        return []
    return [AlertView.model_validate(alert.model_dump()) for alert in alerts]
