"""Open alerts for the dashboard, read from the Cosmos DB ``alerts`` container.

The monitoring loop writes the alerts; this module only reads them. Fields used: ``id``, ``kind``, ``severity``,
``title``, ``status`` (``open``/``acked``), ``created_at``, ``model_version``. Items that do not look like alerts are
skipped, never fatal.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tweet_triage.settings import Settings
from tweet_triage.stream.store.cosmos import ALERTS, container_specs, open_client, translate_errors
from tweet_triage.stream.timestamps import UtcDatetime

log = logging.getLogger(__name__)

MAX_ALERTS = 50


class AlertView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    kind: str = "alert"
    severity: str = "warning"
    title: str
    status: str = "open"
    created_at: UtcDatetime | None = None
    model_version: str | None = None


def read_open_alerts(settings: Settings, *, limit: int = MAX_ALERTS) -> list[AlertView]:
    """The newest open alerts (no container yet means none)."""
    from azure.cosmos.exceptions import CosmosResourceNotFoundError

    name = container_specs(settings.cosmos)[ALERTS].name
    client = open_client(settings)
    try:
        container = client.get_database_client(settings.cosmos.database).get_container_client(name)
        query = "SELECT TOP @n * FROM c WHERE c.status = 'open' ORDER BY c.created_at DESC"
        with translate_errors(settings, container=name):
            try:
                items: list[dict[str, Any]] = list(
                    container.query_items(
                        query, parameters=[{"name": "@n", "value": limit}], enable_cross_partition_query=True
                    )
                )
            except CosmosResourceNotFoundError:  # no alerts container (or database) yet: nothing is open
                return []
    finally:
        client.close()
    alerts = []
    for item in items:
        try:
            alerts.append(AlertView.model_validate(item))
        except ValidationError as exc:
            log.warning("skipping an item of %s that is not an alert: %s", name, exc)
    return alerts
