"""One real round trip through each local service: a Kafka message, a Cosmos DB item, an MLflow run."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from azure.cosmos import CosmosClient, PartitionKey

from tweet_triage.settings import Settings

pytestmark = pytest.mark.integration


def test_kafka_produce_then_consume_one_keyed_message(local_stack: Settings) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"

    async def roundtrip() -> tuple[bytes | None, bytes | None]:
        producer = AIOKafkaProducer(bootstrap_servers=local_stack.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b'{"id": "1", "text": "help"}', key=b"1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=local_stack.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"g-{topic}",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        return message.key, message.value

    key, value = asyncio.run(roundtrip())
    assert key == b"1"
    assert value == b'{"id": "1", "text": "help"}'


def test_cosmos_upsert_then_read_one_item(local_stack: Settings) -> None:
    client = CosmosClient(
        local_stack.cosmos_endpoint,
        credential=local_stack.cosmos.key.get_secret_value(),
        connection_verify=False,
        enable_endpoint_discovery=False,
    )
    database = client.create_database_if_not_exists(f"roundtrip-{uuid.uuid4().hex[:8]}")
    container = database.create_container_if_not_exists("items", partition_key=PartitionKey(path="/pk"))
    container.upsert_item({"id": "t1", "pk": "a", "label": "emergency"})
    container.upsert_item({"id": "t1", "pk": "a", "label": "not-emergency"})
    item = container.read_item("t1", partition_key="a")
    assert item["label"] == "not-emergency"
    assert len(list(container.query_items("SELECT * FROM c", enable_cross_partition_query=True))) == 1


def test_mlflow_logs_one_run_to_the_server(local_stack: Settings) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=local_stack.mlflow_tracking_uri)
    experiment_id = client.create_experiment(f"roundtrip-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "lr", "5e-5")
    client.log_metric(run.info.run_id, "f1", 0.83)
    client.set_terminated(run.info.run_id)
    stored = client.get_run(run.info.run_id)
    assert stored.data.params == {"lr": "5e-5"}
    assert stored.data.metrics == {"f1": 0.83}
    assert stored.info.status == "FINISHED"
