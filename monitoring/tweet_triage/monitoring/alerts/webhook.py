"""Alert delivery to an incoming webhook (Slack, Teams and most chat tools accept ``{"text": ...}``).

The body is plain JSON: ``text`` (one readable message with a link-free summary) plus an ``alert`` object with every
field, for receivers that parse it. Retries: connection errors, timeouts, HTTP 429 and 5xx, with exponential backoff
(``sleep`` injected for tests); any other 4xx is final (the receiver will not change its mind). The URL is a secret
(it embeds the receiver's token) and is never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tweet_triage.monitoring.alerts.records import Alert

log = logging.getLogger(__name__)

_ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    attempts: int
    error: str | None = None
    final: bool = False  # the receiver refused it for good (a 4xx other than 429): trying again will not help


def message(alert: Alert) -> dict[str, Any]:
    """The JSON body for one alert."""
    version = f" · model v{alert.model_version}" if alert.model_version else ""
    text = (
        f"{_ICONS.get(alert.severity, '')} [{alert.severity.upper()}] {alert.title}{version}\n"
        f"{alert.summary}\n"
        f"alert {alert.id} — `triage alerts show {alert.id}`; acknowledge with `triage alerts ack {alert.id} --by NAME`"
    )
    return {"text": text, "alert": alert.to_item()}


class WebhookNotifier:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 5,
        first_backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._timeout = timeout_s
        self._attempts = attempts
        self._first_backoff = first_backoff_s
        self._sleep = sleep
        self._transport = transport

    def deliver(self, alert: Alert) -> DeliveryResult:
        body = message(alert)
        error = "not attempted"
        with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
            for attempt in range(1, self._attempts + 1):
                try:
                    response = client.post(self._url, json=body)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    if response.is_success:
                        return DeliveryResult(True, attempt)
                    error = f"HTTP {response.status_code}"
                    if response.status_code != 429 and response.status_code < 500:
                        log.error("webhook refused alert %s with %s; not retrying", alert.id, error)
                        return DeliveryResult(False, attempt, error, final=True)
                if attempt < self._attempts:
                    delay = self._first_backoff * 2 ** (attempt - 1)
                    log.warning("webhook delivery of alert %s failed (%s); retrying in %.1f s", alert.id, error, delay)
                    self._sleep(delay)
        log.error("webhook delivery of alert %s failed after %d attempts: %s", alert.id, self._attempts, error)
        return DeliveryResult(False, self._attempts, error)
