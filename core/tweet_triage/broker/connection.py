"""aiokafka connection options from the settings: the local broker, or the Event Hubs Kafka endpoint.

Event Hubs speaks Kafka on port 9093 over TLS, signed in either with Microsoft Entra ID (SASL OAUTHBEARER, the
process's own identity: :mod:`tweet_triage.broker.entra`) or with a shared access key (SASL PLAIN: the user name is
the literal ``$ConnectionString`` and the password is the connection string, a secret read only from settings).
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from tweet_triage.broker.entra import token_provider
from tweet_triage.settings import Settings

EVENTHUBS_SASL_USERNAME = "$ConnectionString"
# Bytes of one partition's batch in a produce request (aiokafka's default is 16 KB). A worker's micro-batch of 64 scored
# events is about 160 KB: in 16 KB batches it took ten requests per partition, each a write of the durable local
# broker's object store (and ten objects every fetch then reads); within Event Hubs' 1 MB request limit.
PRODUCE_BATCH_BYTES = 256 * 1024


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments shared by ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and ``AIOKafkaAdminClient``."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap, "client_id": "tweet-triage"}
    secret = settings.kafka.eventhubs_connection_string
    if settings.kafka.uses_entra:
        options.update(
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=token_provider(settings),
            ssl_context=create_ssl_context(),
        )
    elif secret is not None:
        options.update(
            security_protocol="SASL_SSL",
            sasl_mechanism="PLAIN",
            sasl_plain_username=EVENTHUBS_SASL_USERNAME,
            sasl_plain_password=secret.get_secret_value(),
            ssl_context=create_ssl_context(),
        )
    return options


async def started_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """An aiokafka producer with the settings' connection, started (closed again if it cannot start). No idempotent
    producer: neither Event Hubs nor the local broker supports it, and upserts make duplicates harmless."""
    options.setdefault("max_batch_size", PRODUCE_BATCH_BYTES)
    producer = AIOKafkaProducer(**kafka_client_options(settings), enable_idempotence=False, **options)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer
