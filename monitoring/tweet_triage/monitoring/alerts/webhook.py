"""Alert delivery to an incoming webhook (Slack, Teams and most chat tools accept ``{"text": ...}``).

The body is plain JSON: ``text`` (one readable message with a link-free summary) plus an ``alert`` object with every
field, for receivers that parse it. Retries (:func:`tweet_triage.retry.retry_sync`): connection errors, timeouts,
HTTP 429 and 5xx, waiting ``first_backoff_s`` and doubling (``sleep`` injected for tests); any other 4xx is final (the
receiver will not change its mind). The URL is a secret (it embeds the receiver's token) and is never logged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.retry import Backoff, Failure, RetryPolicy, retry_sync

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


class NotAccepted(Exception):
    """The receiver answered, but not with a 2xx."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def classify(error: BaseException) -> Failure:
    """Connection errors, timeouts, 429 and 5xx are the receiver's passing trouble; other 4xx are final."""
    if isinstance(error, httpx.HTTPError):
        return Failure("service")
    if isinstance(error, NotAccepted):
        retryable = error.status == 429 or error.status >= 500
        return Failure("service" if retryable else "item", error.status)
    return Failure("unexplained")


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
        self._policy = RetryPolicy(
            max_attempts=attempts, backoff=Backoff(initial_s=first_backoff_s, max_s=math.inf, jitter=False)
        )
        self._sleep = sleep
        self._transport = transport

    def deliver(self, alert: Alert) -> DeliveryResult:
        body = message(alert)
        attempts = 0
        with httpx.Client(timeout=self._timeout, transport=self._transport) as client:

            def post() -> None:
                nonlocal attempts
                attempts += 1
                response = client.post(self._url, json=body)
                if not response.is_success:
                    raise NotAccepted(response.status_code)

            what = f"webhook delivery of alert {alert.id}"
            try:
                retry_sync(post, policy=self._policy, classify=classify, what=what, sleep=self._sleep)
            except (NotAccepted, httpx.HTTPError) as exc:
                error = str(exc) if isinstance(exc, NotAccepted) else f"{type(exc).__name__}: {exc}"
                if not classify(exc).service_wide:
                    log.error("webhook refused alert %s with %s; not retrying", alert.id, error)
                    return DeliveryResult(False, attempts, error, final=True)
                log.error("webhook delivery of alert %s failed after %d attempts: %s", alert.id, attempts, error)
                return DeliveryResult(False, attempts, error)
        return DeliveryResult(True, attempts)
