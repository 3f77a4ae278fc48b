"""The ``alerts`` container: create, read, list and acknowledge alerts (synchronous SDK; alerts are rare).

Queries use only what both real Cosmos DB and the local server support: ``TOP``, ``WHERE``, ``ORDER BY`` on the
stored ``order_key`` (``<created_at>#<id>``); single alerts are read by a query on ``c.id`` with the partition key.
Changes to a stored alert (delivery state, repeats, acknowledgement, a retraining request's details) are partial
updates (``patch_item`` ``set`` operations), so two writers touching different fields never undo each other.

Every state written — a new alert, and the whole item each partial update leaves — is also published to the
``tweets-alerts`` topic (key = alert id), so the container, retraining requests included, can be rebuilt from the
topic (``triage results rebuild --container alerts``). The store is written first; a broker that does not
acknowledge within its wait is logged, and the alert stays stored.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from tweet_triage.broker.record_publisher import RecordPublisher
from tweet_triage.clock import format_utc
from tweet_triage.errors import AlertNotFound, TriageError
from tweet_triage.monitoring.alerts.records import Alert, AlertKind, Delivery, Status
from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import ALERTS, container_specs, open_container, query, translate_errors
from tweet_triage.store.records import item_body

if TYPE_CHECKING:
    from azure.cosmos import ContainerProxy

log = logging.getLogger(__name__)


class ItemPublisher(Protocol):
    def send(self, topic: str, key: bytes, value: bytes) -> None: ...


class AlertStorage(Protocol):
    """What the alert center, retraining, CLI and dashboard use of the alerts container: :class:`AlertStore`, or an
    in-memory twin in tests."""

    def save(self, alert: Alert) -> Alert: ...
    def get(self, alert_id: str) -> Alert: ...
    def recent(
        self,
        *,
        status: Status | None = None,
        kind: AlertKind | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Alert]: ...
    def latest(self, dedup_key: str) -> Alert | None: ...
    def undelivered(self, *, due: datetime, limit: int = 50) -> list[Alert]: ...
    def set_delivery(self, alert_id: str, delivery: Delivery) -> None: ...
    def save_repeat(self, alert: Alert) -> Alert: ...
    def set_details(self, alert_id: str, details: dict[str, Any]) -> None: ...
    def ack(self, alert_id: str, *, by: str, at: datetime) -> Alert: ...


class AlertUpdates(ABC):
    """The partial updates of a stored alert, the same for every store: each writes only the fields it owns, so an
    update made from a stale read never undoes another (an acknowledgement, a delivery)."""

    @abstractmethod
    def get(self, alert_id: str) -> Alert: ...

    @abstractmethod
    def _patch(self, alert_id: str, fields: Mapping[str, Any]) -> None:
        """Set ``fields`` on the stored alert, leaving the others as they are."""

    def set_delivery(self, alert_id: str, delivery: Delivery) -> None:
        self._patch(alert_id, {"delivery": delivery.model_dump(mode="json")})

    def save_repeat(self, alert: Alert) -> Alert:
        item = alert.to_item()
        self._patch(alert.id, {name: item[name] for name in ("occurrences", "last_seen_at", "evidence")})
        return alert

    def set_details(self, alert_id: str, details: dict[str, Any]) -> None:
        self._patch(alert_id, {"details": details})

    def ack(self, alert_id: str, *, by: str, at: datetime) -> Alert:
        alert = self.get(alert_id)
        if alert.status == "acked":
            return alert
        acked = alert.model_copy(update={"status": "acked", "acked_by": by, "acked_at": at})
        item = acked.to_item()
        self._patch(alert_id, {name: item[name] for name in ("status", "acked_by", "acked_at")})
        return acked


class AlertStore(AlertUpdates):
    def __init__(self, container: ContainerProxy, settings: Settings, publisher: ItemPublisher | None = None) -> None:
        self._container = container
        self._settings = settings
        self._name = container_specs(settings.cosmos)[ALERTS].name
        self._publisher = publisher

    @classmethod
    @contextmanager
    def open(cls, settings: Settings, *, create: bool = False) -> Iterator[AlertStore]:
        """Connect; with ``create`` the database and containers are created first (the monitor does this)."""
        with open_container(settings, ALERTS, create=create) as container, RecordPublisher(settings) as publisher:
            yield cls(container, settings, publisher)

    def save(self, alert: Alert) -> Alert:
        item = alert.to_item()
        with translate_errors(self._settings, container=self._name):
            self._container.upsert_item(item)
        self._publish(item)
        return alert

    def _publish(self, item: Mapping[str, Any]) -> None:
        """The stored state of one alert to the alerts topic (its record); see the module docstring."""
        if self._publisher is None:
            return
        try:
            self._publisher.send(self._settings.kafka.topic_alerts, str(item["id"]).encode(), json.dumps(item).encode())
        except TriageError as exc:
            log.error(
                "alert %s is stored but not on the topic %s: %s", item["id"], self._settings.kafka.topic_alerts, exc
            )

    def get(self, alert_id: str) -> Alert:
        rows = self._query("SELECT * FROM c WHERE c.id = @id", {"@id": alert_id}, partition_key=alert_id)
        if not rows:
            raise AlertNotFound(f"no alert {alert_id!r}; `triage alerts list` shows the recent ones")
        return Alert.from_item(rows[0])

    def recent(
        self,
        *,
        status: Status | None = None,
        kind: AlertKind | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        """Newest first."""
        conditions = ["IS_STRING(c.order_key)"]
        parameters: dict[str, Any] = {"@n": max(1, limit)}
        for field, value in (("status", status), ("kind", kind)):
            if value is not None:
                conditions.append(f"c.{field} = @{field}")
                parameters[f"@{field}"] = value
        if since is not None:
            conditions.append("c.order_key >= @since")
            parameters["@since"] = format_utc(since)
        where = " AND ".join(conditions)
        query = f"SELECT TOP @n * FROM c WHERE {where} ORDER BY c.order_key DESC"  # noqa: S608 - fixed fragments
        return [alert for item in self._query(query, parameters) if (alert := _to_alert(item)) is not None]

    def latest(self, dedup_key: str) -> Alert | None:
        query = "SELECT TOP 1 * FROM c WHERE c.dedup_key = @key ORDER BY c.order_key DESC"
        rows = [alert for item in self._query(query, {"@key": dedup_key}) if (alert := _to_alert(item)) is not None]
        return rows[0] if rows else None

    def undelivered(self, *, due: datetime, limit: int = 50) -> list[Alert]:
        """Alerts whose webhook message is pending and due at ``due`` (or has no due time: stored before the
        outbox existed, or by a process that crashed), oldest first."""
        query = (
            "SELECT TOP @n * FROM c WHERE c.delivery.status = 'pending' AND IS_STRING(c.order_key) AND ("
            "NOT IS_DEFINED(c.delivery.next_attempt_at) OR IS_NULL(c.delivery.next_attempt_at) "
            "OR c.delivery.next_attempt_at <= @due) ORDER BY c.order_key ASC"
        )
        parameters = {"@n": max(1, limit), "@due": format_utc(due)}
        return [alert for item in self._query(query, parameters) if (alert := _to_alert(item)) is not None]

    def _patch(self, alert_id: str, fields: Mapping[str, Any]) -> None:
        operations = [{"op": "set", "path": f"/{name}", "value": value} for name, value in fields.items()]
        with translate_errors(self._settings, container=self._name):
            patched = self._container.patch_item(item=alert_id, partition_key=alert_id, patch_operations=operations)
        self._publish(item_body(patched))

    def _query(
        self, text: str, parameters: Mapping[str, Any], *, partition_key: str | None = None
    ) -> list[dict[str, Any]]:
        return query(self._container, self._settings, text, parameters, partition_key=partition_key)


def _to_alert(item: Mapping[str, Any]) -> Alert | None:
    try:
        return Alert.from_item(item)
    except ValidationError as exc:
        log.warning("skipping stored item %r that is not an alert: %s", item.get("id"), exc)
        return None
