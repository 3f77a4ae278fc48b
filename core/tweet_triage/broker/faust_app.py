"""The Faust app settings every stream process shares (scoring worker, monitor): broker, credentials, timeouts.

Messages are raw bytes (each process parses them itself, so malformed ones reach the dead-letter topic instead of
crashing the agent); topics are created by :mod:`tweet_triage.broker.topics`, never declared by Faust; the web server
(health and metrics) runs in the event loop. Locally the broker is Tansu; on Azure the Event Hubs Kafka endpoint with
SASL PLAIN over TLS.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, Final, NoReturn

import faust
from aiokafka.helpers import create_ssl_context

from tweet_triage.broker.connection import EVENTHUBS_SASL_USERNAME
from tweet_triage.broker.entra import token_provider
from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.settings import Settings

log = logging.getLogger(__name__)

FAIL_STOP_EXIT_CODE: Final = 70  # EX_SOFTWARE: a supervisor restarts the process, the group re-delivers


def faust_app(
    settings: Settings,
    *,
    group: str,
    partitions: int,
    datadir: Path,
    web_host: str,
    web_port: int,
    **extra: Any,
) -> faust.App:
    kafka = settings.kafka
    return faust.App(
        group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=credentials(settings),
        broker_session_timeout=kafka.session_timeout_s,
        broker_heartbeat_interval=kafka.heartbeat_interval_s,
        broker_rebalance_timeout=kafka.rebalance_timeout_s,
        consumer_auto_offset_reset="earliest",
        topic_partitions=partitions,
        topic_allow_declare=False,
        topic_disable_leader=True,
        store="memory://",
        datadir=str(datadir),
        web_enabled=True,
        web_host=web_host,
        web_port=web_port,
        web_in_thread=False,
        key_serializer="raw",
        value_serializer="raw",
        timezone=UTC,
        **extra,
    )


def credentials(settings: Settings) -> Any:
    """For Event Hubs over TLS: Entra ID (OAUTHBEARER) or SASL PLAIN with ``$ConnectionString``; None locally."""
    if settings.kafka.uses_entra:
        return faust.OAuthCredentials(oauth_cb=token_provider(settings), ssl_context=create_ssl_context())
    secret = settings.kafka.eventhubs_connection_string
    if secret is None:
        return None
    return faust.SASLCredentials(
        username=EVENTHUBS_SASL_USERNAME,
        password=secret.get_secret_value(),
        ssl_context=create_ssl_context(),
        mechanism="PLAIN",
    )


def inbound_message(event: Any) -> InboundMessage:
    """A Faust event's message as the domain sees it; never raises, whatever the message carries."""
    message = event.message
    return InboundMessage.from_broker(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_s=message.timestamp,
        headers=message.headers,
    )


# ---- acknowledging only what was handled ---------------------------------------------------------------------------
# Faust acknowledges an event when the agent asks for the next one (``take_events``: the next batch), even if the body
# raised in between. An agent that must not lose events holds its own reference to each (:func:`hold`), acknowledges
# them once they are handled or dead-lettered (:func:`release`), and on any failure leaves the process without
# acknowledging (:func:`fail_stop`): Faust commits an offset only once every earlier event of the partition is
# acknowledged, so the group re-delivers from there.


def hold(events: Sequence[Any]) -> None:
    """Keep ``events`` unacknowledged past the agent's next request, until :func:`release`."""
    for event in events:
        event.message.incref()


async def release(stream: Any, events: Sequence[Any]) -> None:
    """Drop the references :func:`hold` took: now Faust may commit past these events."""
    for event in events:
        await stream.ack(event)


def fail_stop(what: str) -> NoReturn:
    """Leave without acknowledging: leaving the agent's loop would let Faust acknowledge what was not handled. Only
    failures of the process or a dependency get here (data is dead-lettered), so another try may succeed."""
    log.critical("%s cannot handle its events; exiting without committing", what, exc_info=True)
    os._exit(FAIL_STOP_EXIT_CODE)
