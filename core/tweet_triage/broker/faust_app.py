"""The Faust app settings every stream process shares (scoring worker, monitor): broker, credentials, timeouts.

Messages are raw bytes (each process parses them itself, so malformed ones reach the dead-letter topic instead of
crashing the agent); topics are created by :mod:`tweet_triage.broker.topics`, never declared by Faust; the web server
(health and metrics) runs in the event loop. Locally the broker is Tansu; on Azure the Event Hubs Kafka endpoint with
SASL PLAIN over TLS.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context

from tweet_triage.broker.connection import EVENTHUBS_SASL_USERNAME
from tweet_triage.broker.entra import token_provider
from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.settings import Settings


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
