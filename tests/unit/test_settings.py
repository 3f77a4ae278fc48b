from __future__ import annotations

from pathlib import Path

import pytest

from tweet_triage.errors import SettingsError
from tweet_triage.settings import COSMOS_EMULATOR_KEY, describe, env_name, load_settings

EVENTHUBS = "Endpoint=sb://crisis-ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abcdefgh12345678"


def test_local_profile_defaults_point_at_the_local_stack() -> None:
    settings = load_settings()
    assert settings.profile == "local"
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.cosmos_endpoint == "http://127.0.0.1:18081"
    assert settings.mlflow_tracking_uri == "http://127.0.0.1:15000"
    assert settings.stack.host == "127.0.0.1"


def test_nested_values_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_STACK__KAFKA_PORT", "29092")
    monkeypatch.setenv("TRIAGE_COSMOS__DATABASE", "relief")
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.cosmos.database == "relief"


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TRIAGE_MLFLOW__EXPERIMENT=from-dotenv\n")
    assert load_settings().mlflow.experiment == "from-dotenv"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRIAGE_STACK__KAFKA_PORT", "not-a-port"),
        ("TRIAGE_STACK__COSMOS_PORT", "70000"),
        ("TRIAGE_PROFILE", "cloud"),
        ("TRIAGE_KAFKA__SESSION_TIMEOUT_S", "-1"),
        ("TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING", "not a connection string"),
    ],
)
def test_invalid_values_fail_naming_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_azure_profile_requires_its_endpoints_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_PROFILE", "azure")
    with pytest.raises(SettingsError) as error:
        load_settings()
    for variable in (
        "TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING",
        "TRIAGE_COSMOS__ENDPOINT",
        "TRIAGE_COSMOS__KEY",
        "TRIAGE_MLFLOW__TRACKING_URI",
    ):
        assert variable in str(error.value)


def test_azure_profile_derives_the_event_hubs_kafka_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_PROFILE", "azure")
    monkeypatch.setenv("TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING", EVENTHUBS)
    monkeypatch.setenv("TRIAGE_COSMOS__ENDPOINT", "https://crisis.documents.azure.com:443/")
    monkeypatch.setenv("TRIAGE_COSMOS__KEY", "a-real-looking-account-key")
    monkeypatch.setenv("TRIAGE_MLFLOW__TRACKING_URI", "azureml://westeurope.api.azureml.ms/mlflow/v1.0/x")
    settings = load_settings()
    assert settings.kafka_bootstrap == "crisis-ns.servicebus.windows.net:9093"
    assert settings.kafka.uses_eventhubs


def test_describe_masks_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING", EVENTHUBS)
    monkeypatch.setenv("TRIAGE_COSMOS__KEY", "super-secret-cosmos-key")
    rows = {row.variable: row for row in describe(load_settings())}
    rendered = "\n".join(f"{row.variable}={row.value}" for row in rows.values())
    assert "super-secret-cosmos-key" not in rendered
    assert "abcdefgh12345678" not in rendered
    assert rows["TRIAGE_COSMOS__KEY"].secret
    assert rows["TRIAGE_KAFKA__EVENTHUBS_CONNECTION_STRING"].secret
    assert rows["TRIAGE_STACK__KAFKA_PORT"].value == "19092"


def test_emulator_key_is_labelled_not_hidden() -> None:
    rows = {row.variable: row.value for row in describe(load_settings())}
    assert rows["TRIAGE_COSMOS__KEY"] == "(local emulator key)"
    assert COSMOS_EMULATOR_KEY not in rows.values()


def test_env_name_joins_nested_fields() -> None:
    assert env_name(("stack", "kafka_port")) == "TRIAGE_STACK__KAFKA_PORT"
    assert env_name(("profile",)) == "TRIAGE_PROFILE"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.7", "my-laptop.lan"])
def test_a_non_loopback_stack_host_is_refused_saying_why(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("TRIAGE_STACK__HOST", host)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = " ".join(str(error.value).split())
    assert f"TRIAGE_STACK__HOST={host}" in message
    assert "no authentication" in message and "TRIAGE_STACK__ALLOW_NON_LOOPBACK=true" in message


def test_a_non_loopback_stack_host_needs_the_explicit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_STACK__HOST", "0.0.0.0")
    monkeypatch.setenv("TRIAGE_STACK__ALLOW_NON_LOOPBACK", "true")
    assert load_settings().stack.host == "0.0.0.0"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost"])
def test_loopback_stack_hosts_need_nothing(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("TRIAGE_STACK__HOST", host)
    assert load_settings().stack.host == host


def test_azure_profile_accepts_entra_id_for_event_hubs_instead_of_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_PROFILE", "azure")
    monkeypatch.setenv("TRIAGE_KAFKA__EVENTHUBS_NAMESPACE", "crisis-ns.servicebus.windows.net")
    monkeypatch.setenv("TRIAGE_COSMOS__ENDPOINT", "https://crisis.documents.azure.com:443/")
    monkeypatch.setenv("TRIAGE_COSMOS__KEY", "a-real-looking-account-key")
    monkeypatch.setenv("TRIAGE_MLFLOW__TRACKING_URI", "https://mlflow.example")
    settings = load_settings()
    assert settings.kafka.uses_entra and settings.kafka_bootstrap == "crisis-ns.servicebus.windows.net:9093"
    monkeypatch.setenv("TRIAGE_KAFKA__EVENTHUBS_NAMESPACE", "crisis-ns.example.com")
    with pytest.raises(SettingsError, match="TRIAGE_KAFKA__EVENTHUBS_NAMESPACE"):
        load_settings()
