"""Kafka connection options: plain for the local broker; for Event Hubs SASL_SSL with $ConnectionString, or
OAUTHBEARER with the process's Entra ID identity."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest

from tweet_triage.broker.connection import kafka_client_options
from tweet_triage.broker.entra import EntraSignInError, EventHubsTokenProvider
from tweet_triage.broker.faust_app import credentials
from tweet_triage.settings import load_settings

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


def test_event_hubs_with_entra_id_uses_oauthbearer_and_no_key() -> None:
    settings = load_settings(
        kafka={"eventhubs_namespace": "relief-ns.servicebus.windows.net", "identity_client_id": "1111-aaaa"}
    )
    assert settings.kafka.uses_entra and settings.kafka.uses_eventhubs
    options = kafka_client_options(settings)
    assert options["bootstrap_servers"] == "relief-ns.servicebus.windows.net:9093"
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, EventHubsTokenProvider)
    assert provider.scope == "https://relief-ns.servicebus.windows.net/.default"
    assert "sasl_plain_password" not in options
    oauth = credentials(settings)
    assert isinstance(oauth, faust.OAuthCredentials) and isinstance(oauth.oauth_cb, EventHubsTokenProvider)


def test_a_connection_string_wins_over_the_namespace() -> None:
    settings = load_settings(
        kafka={"eventhubs_connection_string": CONNECTION_STRING, "eventhubs_namespace": "other.servicebus.windows.net"}
    )
    assert not settings.kafka.uses_entra
    assert kafka_client_options(settings)["sasl_mechanism"] == "PLAIN"


class FakeCredential:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = False

    def get_token(self, *scopes: str) -> SimpleNamespace:
        self.calls.append(scopes)
        if self.fail:
            raise RuntimeError("ManagedIdentityCredential: no identity assigned")
        return SimpleNamespace(token=f"token-{len(self.calls)}", expires_on=1_000.0 + 3600 * len(self.calls))


def test_tokens_are_cached_until_shortly_before_they_expire() -> None:
    now = [1_000.0]
    credential = FakeCredential()
    provider = EventHubsTokenProvider("ns.servicebus.windows.net", credential=credential, clock=lambda: now[0])
    assert asyncio.run(provider.token()) == "token-1"
    now[0] += 3000  # 10 minutes left: still good
    assert asyncio.run(provider.token()) == "token-1"
    now[0] += 400  # inside the refresh margin
    assert asyncio.run(provider.token()) == "token-2"
    assert credential.calls == [("https://ns.servicebus.windows.net/.default",)] * 2


def test_a_failed_sign_in_names_the_identity_and_what_to_set() -> None:
    credential = FakeCredential()
    credential.fail = True
    provider = EventHubsTokenProvider("ns.servicebus.windows.net", client_id="1111-aaaa", credential=credential)
    with pytest.raises(EntraSignInError, match="managed identity 1111-aaaa") as error:
        asyncio.run(provider.token())
    assert "TRIAGE_KAFKA__IDENTITY_CLIENT_ID" in str(error.value)
