"""Kafka connection options: plain for the local broker, SASL_SSL + $ConnectionString for Event Hubs."""

from __future__ import annotations

from tweet_triage.settings import load_settings
from tweet_triage.stream.kafka_client import kafka_client_options

CONNECTION_STRING = "Endpoint=sb://relief-ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0"


def test_the_local_broker_needs_no_security() -> None:
    options = kafka_client_options(load_settings(stack={"kafka_port": 12345}))
    assert options["bootstrap_servers"] == "127.0.0.1:12345"
    assert "security_protocol" not in options and "sasl_plain_password" not in options


def test_event_hubs_uses_sasl_ssl_plain_with_the_connection_string_as_password() -> None:
    settings = load_settings(kafka={"eventhubs_connection_string": CONNECTION_STRING})
    options = kafka_client_options(settings)
    assert options["bootstrap_servers"] == "relief-ns.servicebus.windows.net:9093"
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "PLAIN")
    assert options["sasl_plain_username"] == "$ConnectionString"
    assert options["sasl_plain_password"] == CONNECTION_STRING
    assert options["ssl_context"] is not None
