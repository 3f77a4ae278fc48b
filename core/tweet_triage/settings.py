"""One settings object for the whole system.

Values come from environment variables prefixed ``TRIAGE_`` (nested sections joined with ``__``, for example
``TRIAGE_STACK__KAFKA_PORT``) and from an optional ``.env`` file. Settings are built by entry points with
:func:`load_settings` and passed down; nothing reads the environment at import time.

Two profiles:

* ``local`` (default): the broker, Cosmos DB server and MLflow started by ``triage stack up`` on 127.0.0.1.
* ``azure``: the Event Hubs Kafka endpoint (SASL_SSL, PLAIN, ``$ConnectionString``), a Cosmos DB account,
  an MLflow tracking URI (for example the Azure ML workspace) and the Azure ML workspace identifiers.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tweet_triage.errors import SettingsError
from tweet_triage.model.operating_point import DEFAULT_POLICY, Policy

ENV_PREFIX = "TRIAGE_"
ENV_NESTED_DELIMITER = "__"

# The publicly documented key of the Cosmos DB emulator; the local server accepts any key. Not a secret.
COSMOS_EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

_EVENTHUBS_ENDPOINT = re.compile(r"Endpoint=sb://(?P<host>[^/;]+)/?;", re.IGNORECASE)


def non_loopback(host: str) -> str | None:
    """Why ``host`` is not a loopback interface (None when it is one)."""
    if host == "localhost":
        return None
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return "is not an IPv4 address or 'localhost'"
    if address.is_loopback:
        return None
    return "listens on every interface" if address.is_unspecified else "is not a loopback address"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StackSettings(_Section):
    """Where and how the local stand-in services run (local profile only)."""

    state_dir: Path = Field(Path(".triage"), description="Folder for pid files, logs, MLflow store and artifacts.")
    node_dir: Path | None = Field(
        None, description="Folder holding the npm-installed Cosmos DB server (default: STATE_DIR/node)."
    )
    host: str = Field(
        "127.0.0.1",
        description="Interface the local services (and the worker's and monitor's health pages) bind to: a loopback "
        "address unless ALLOW_NON_LOOPBACK is set.",
    )
    allow_non_loopback: bool = Field(
        False,
        description="Let HOST be a non-loopback interface. The local MLflow and Cosmos DB servers have no "
        "authentication: only inside a container or on a network you control.",
    )
    kafka_port: int = Field(19092, ge=1, le=65535, description="Port of the Kafka-protocol broker (Tansu).")
    cosmos_port: int = Field(18081, ge=1, le=65535, description="Port of the Cosmos DB server.")
    mlflow_port: int = Field(15000, ge=1, le=65535, description="Port of the MLflow tracking server.")
    startup_timeout_s: float = Field(90.0, gt=0, description="How long `stack up` waits for each health check.")
    broker_storage: Literal["durable", "memory"] = Field(
        "durable",
        description="durable: the broker keeps its topics in a local S3-compatible object store under "
        "STATE_DIR/objects (survives restarts and kill -9); memory: in memory only (a restart loses every topic).",
    )
    objects_port: int = Field(19000, ge=1, le=65535, description="Port of the broker's local object store.")
    snapshot_every_s: float = Field(
        60.0, ge=0, description="Seconds between snapshots of the local Cosmos DB server (0: only at `stack down`)."
    )
    drain_timeout_s: float = Field(
        300.0, gt=0, description="How long `stack down` waits for the worker and monitor to process the topics."
    )

    @property
    def durable_broker(self) -> bool:
        return self.broker_storage == "durable"

    @property
    def resolved_node_dir(self) -> Path:
        return self.node_dir if self.node_dir is not None else self.state_dir / "node"

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> StackSettings:
        problem = non_loopback(self.host)
        if problem and not self.allow_non_loopback:
            raise ValueError(
                f"{env_name(('stack', 'host'))}={self.host} {problem}: the local MLflow server and Cosmos DB server "
                "have no authentication, so anyone who can reach this machine could read every tweet and move the "
                f"production model. Use 127.0.0.1, or set {env_name(('stack', 'allow_non_loopback'))}=true if this "
                "runs inside a container or on a network only you can reach"
            )
        return self


class KafkaSettings(_Section):
    """The tweet stream: a local Kafka-protocol broker or the Event Hubs Kafka endpoint."""

    bootstrap_servers: str | None = Field(
        None,
        description="host:port list; default: the local broker, or derived from the Event Hubs connection string.",
    )
    eventhubs_connection_string: SecretStr | None = Field(
        None,
        description="Event Hubs connection string (a shared access key); used as the SASL PLAIN password.",
    )
    eventhubs_namespace: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9-]+\.servicebus\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$",
        description="Event Hubs namespace host (NAMESPACE.servicebus.windows.net): sign in with Microsoft Entra ID "
        "(OAUTHBEARER) instead of a connection string, so each process gets only its own identity's hub rights.",
    )
    identity_client_id: str | None = Field(
        None,
        description="Client id of the managed identity that signs in to Event Hubs (with EVENTHUBS_NAMESPACE); "
        "default: what DefaultAzureCredential finds.",
    )
    topic_tweets: str = Field("tweets", min_length=1)
    topic_scored: str = Field("tweets-scored", min_length=1)
    topic_dlq: str = Field("tweets-dlq", min_length=1)
    topic_feedback: str = Field("tweets-feedback", min_length=1)
    topic_alerts: str = Field(
        "tweets-alerts", min_length=1, description="Every stored state of every alert (the alerts' record)."
    )
    consumer_group: str = Field("tweet-triage", min_length=1)
    session_timeout_s: float = Field(
        10.0, gt=0, description="Group session timeout (short locally, 30 s on Event Hubs)."
    )
    heartbeat_interval_s: float = Field(1.0, gt=0)
    rebalance_timeout_s: float = Field(10.0, gt=0)

    @property
    def uses_eventhubs(self) -> bool:
        return self.eventhubs_connection_string is not None or self.eventhubs_namespace is not None

    @property
    def uses_entra(self) -> bool:
        """Event Hubs with Entra ID tokens rather than a shared access key."""
        return self.eventhubs_connection_string is None and self.eventhubs_namespace is not None


class CosmosSettings(_Section):
    """The results store."""

    endpoint: str | None = Field(None, description="Account endpoint; default: the local server.")
    key: SecretStr = Field(SecretStr(COSMOS_EMULATOR_KEY), description="Account key (azure profile: required).")
    database: str = Field("tweet-triage", min_length=1)
    predictions_container: str = Field("predictions", min_length=1)
    feedback_container: str = Field("feedback", min_length=1)
    alerts_container: str = Field("alerts", min_length=1)
    shadow_container: str = Field("shadow", min_length=1)
    write_path: Literal["rest", "sdk"] = Field(
        "rest",
        description="How the stream worker upserts predictions: `rest` (one pooled session, about a third of the "
        "SDK's Python CPU per item; ignores HTTP(S)_PROXY) or `sdk` (azure-cosmos, honours proxy variables).",
    )


class MlflowSettings(_Section):
    """Experiment tracking and the model registry."""

    tracking_uri: str | None = Field(None, description="Tracking/registry URI; default: the local MLflow server.")
    experiment: str = Field("tweet-triage", min_length=1)
    model_name: str = Field("tweet-triage", min_length=1, description="Registered model name.")


class AzureMlSettings(_Section):
    """The Azure ML workspace used for retraining pipelines and managed endpoints (azure profile)."""

    subscription_id: str | None = None
    resource_group: str | None = None
    workspace_name: str | None = None
    compute: str = "cpu-cluster"
    training_data: str = Field(
        "azureml:disaster-tweets@latest",
        description="Data asset (uri_folder) holding the labelled CSV the retraining pipeline prepares.",
    )
    training_file: str = Field("train.csv", min_length=1, description="The CSV inside TRAINING_DATA.")
    experiment: str = Field("tweet-triage-retrain", min_length=1, description="Azure ML experiment of pipeline jobs.")
    endpoint_name: str = Field("tweet-triage", min_length=3, max_length=32, description="Managed online endpoint.")
    instance_type: str = Field("Standard_DS3_v2", description="VM size of each online deployment.")
    instance_count: int = Field(1, ge=1, le=20, description="Instances per online deployment.")
    credential_timeout_s: float = Field(
        20.0, gt=0, le=300, description="How long to wait for an Azure credential before giving up."
    )
    source_dir: Path | None = Field(
        None,
        description="The tweet-triage source tree Azure ML jobs upload as their code (default: this checkout; "
        "the container images set it).",
    )


class DataSettings(_Section):
    """Where datasets come from and where prepared data goes."""

    mirror_dir: Path | None = Field(
        None,
        description="Local folder mirroring dataset files (e.g. ../shared/data); used before any download.",
    )
    data_dir: Path = Field(Path(".triage/data"), description="Where pulled and prepared datasets are kept.")


class ApiSettings(_Section):
    """The scoring HTTP API (`triage api`)."""

    host: str = Field("127.0.0.1", description="Interface the API binds to.")
    port: int = Field(18000, ge=1, le=65535)
    keys: SecretStr | None = Field(
        None,
        description="Comma-separated API keys accepted on write endpoints (Authorization: Bearer KEY or X-API-Key); "
        "unset: write endpoints refuse every request.",
    )
    workers: int = Field(1, ge=1, le=16, description="Server processes (each loads the model once).")
    threads: int = Field(2, ge=1, le=64, description="ONNX Runtime threads per server process.")
    max_batch: int = Field(64, ge=1, le=1024, description="Most tweets in one /v1/predict request.")
    max_text_chars: int = Field(1_000, ge=1, le=100_000, description="Longest tweet text accepted.")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="Largest request body accepted (bytes).")
    batch_window_ms: float = Field(
        2.0,
        ge=0,
        le=1_000,
        description="Milliseconds a predict request that finds the model idle waits for concurrent ones to be scored "
        "with it (server-side batching; 0: only requests already waiting join).",
    )
    batch_max_tweets: int = Field(
        64, ge=1, le=4_096, description="Most tweets of concurrent predict requests scored in one model call."
    )
    model_poll_s: float = Field(5.0, gt=0, description="Seconds between checks of the production alias (hot swap).")
    protect_reads: bool | None = Field(
        None,
        description="Read endpoints (predict, explain, model) need an API key too; default: on in the azure profile, "
        "off locally. Approvers' names are shown only to callers with a key either way.",
    )


class DashboardSettings(_Section):
    """The relief dashboard (`triage dashboard`)."""

    host: str = Field("127.0.0.1", description="Interface the dashboard binds to.")
    port: int = Field(18501, ge=1, le=65535)
    api_url: str | None = Field(None, description="Scoring API the dashboard calls; default: http://API_HOST:API_PORT.")
    api_key: SecretStr | None = Field(None, description="API key the dashboard sends with feedback (one of API_KEYS).")
    refresh_s: float = Field(10.0, ge=1, description="Seconds between automatic refreshes of the live feed.")
    feed_limit: int = Field(500, ge=1, le=5_000, description="Newest predictions read for the feed and the chart.")
    csv_max_rows: int = Field(200, ge=1, le=10_000, description="Most rows of an uploaded CSV that are scored.")


class GateSettings(_Section):
    """The promotion gate's thresholds, the same for `triage train`, a local retraining and the Azure ML pipeline."""

    max_f1_regression: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="How far the F-score at the operating point may fall below production's.",
    )
    max_ece: float = Field(0.05, gt=0, lt=1, description="Largest expected calibration error the candidate may have.")
    max_auc_regression: float = Field(
        0.005,
        ge=0,
        lt=1,
        description="How far ROC-AUC and PR-AUC may fall below production's (seeds: ~0.003).",
    )


class DriftEngine(StrEnum):
    """The online drift detector on the embeddings (``TRIAGE_MONITOR__ENGINE``)."""

    MMD = "mmd"  # alibi-detect MMDDriftOnline


class MonitorSettings(_Section):
    """The drift and accuracy monitors (`triage monitor`)."""

    engine: DriftEngine = Field(
        DriftEngine.MMD, description="Online drift detector on the embeddings (alibi-detect MMDDriftOnline)."
    )
    ert: int = Field(
        20_000, ge=100, description="Expected run time: tweets between false alarms when nothing has drifted."
    )
    window_size: int = Field(20, ge=5, le=500, description="Test window of the embedding detector (tweets).")
    output_window_size: int = Field(50, ge=5, le=1000, description="Test window of the output detector (tweets).")
    n_bootstraps: int = Field(
        200_000, ge=1000, description="Bootstrap streams that calibrate the embedding thresholds (10x ERT; cached)."
    )
    output_n_bootstraps: int = Field(
        50_000, ge=1000, description="Simulated streams that calibrate the output thresholds (above ERT; cached)."
    )
    observe_every: int = Field(
        2,
        ge=1,
        le=100,
        description="The drift detectors see one scored tweet in N, chosen by its id (the same after a restart or a "
        "re-delivery): 2 halves their CPU and doubles their delay and their time between false alarms, counted in "
        "tweets (docs/capacity.md).",
    )
    confirm_updates: int = Field(
        5, ge=1, description="Consecutive drifted updates before a drift incident opens (damps single spikes)."
    )
    seed: int = Field(0, description="Seed of the threshold bootstrap: the same settings give the same thresholds.")
    scope_window_size: int = Field(50, ge=10, le=5000, description="Window of the out-of-scope share detector.")
    scope_baseline_share: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="Share of out-of-scope (other-language) tweets in normal traffic; more raises a drift incident.",
    )
    scope_alpha: float = Field(
        1e-6, gt=0, lt=0.1, description="Chance per tweet that normal traffic fills the out-of-scope window."
    )
    state_dir: Path | None = Field(None, description="Detector state and threshold cache (default: STATE_DIR/monitor).")
    thresholds_dir: Path | None = Field(
        None,
        description="Cache of calibrated detector thresholds (default: MONITOR STATE_DIR/thresholds); keyed by "
        "reference and detector settings, so monitors may share one.",
    )
    save_every_s: float = Field(30.0, gt=0, description="How often detector state is saved.")
    model_poll_s: float = Field(30.0, gt=0, description="How often the production alias is checked.")
    accuracy_window: int = Field(200, ge=10, description="Most recent feedback items per model version that count.")
    accuracy_min_feedback: int = Field(30, ge=1, description="Feedback items needed before accuracy can alert.")
    accuracy_threshold: float = Field(0.7, gt=0, lt=1, description="Rolling accuracy below this raises an alert.")
    consumer_group: str = Field("tweet-triage-monitor", min_length=1)
    web_port: int = Field(16067, ge=1, le=65535, description="Port of the monitor's /healthz and /metrics.")

    def resolved_state_dir(self, stack: StackSettings) -> Path:
        return self.state_dir if self.state_dir is not None else stack.state_dir / "monitor"

    def resolved_thresholds_dir(self, stack: StackSettings) -> Path:
        return self.thresholds_dir if self.thresholds_dir is not None else self.resolved_state_dir(stack) / "thresholds"


class AlertSettings(_Section):
    """Where on-call alerts go and how they are deduplicated."""

    webhook_url: SecretStr | None = Field(
        None, description="Incoming-webhook URL (Slack/Teams style, JSON with a `text` field); a secret."
    )
    webhook_timeout_s: float = Field(5.0, gt=0)
    webhook_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Delivery attempts per round (backoff between); pending alerts get more rounds later.",
    )
    cooldown_s: float = Field(
        3600.0, ge=0, description="Repeats of an open alert (same kind and model) within this are one incident."
    )
    redeliver_every_s: float = Field(
        60.0, gt=0, description="How often the monitor sends alerts whose webhook message is still pending."
    )
    delivery_give_up_s: float = Field(
        86_400.0, gt=0, description="An alert still undelivered this long after it was raised is marked failed."
    )


class RetrainSettings(_Section):
    """When and where retraining runs. Nothing is ever promoted automatically."""

    backend: Literal["local", "azureml", "record-only"] = Field(
        "local", description="local: train here; azureml: submit the Azure ML pipeline; record-only: just record."
    )
    cooldown_s: float = Field(6 * 3600.0, ge=0, description="Automatic triggers of one kind at most this often.")
    min_interval_s: float = Field(3600.0, ge=0, description="Least time between any two retrainings.")
    max_per_day: int = Field(3, ge=1, description="Most retrainings in any 24 hours (manual ones included).")
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    weekly_hour: int = Field(3, ge=0, le=23, description="UTC hour of the weekly retraining.")
    on_drift: bool = True
    on_accuracy: bool = True
    weekly: bool = True
    epochs: int = Field(3, ge=1, description="Epochs of a local retraining.")
    max_samples: int | None = Field(None, ge=10, description="Cap on training tweets (quick retraining).")
    priority: Literal["idle", "low", "normal"] = Field(
        "idle",
        description="CPU priority of a local retraining beside the stream: idle (Linux SCHED_IDLE: only CPU time "
        "nothing else wants), low (nice 19) or normal.",
    )
    threads: int = Field(1, ge=1, le=64, description="Threads a local retraining may use (torch, ONNX Runtime).")
    operating_point: str = Field(
        DEFAULT_POLICY,
        description="How every training (`triage train`, retraining, Azure ML) chooses the decision threshold on "
        "the validation split: f2 (recall weighs twice), f1, or recall>=R (best precision at that recall).",
    )

    @field_validator("operating_point")
    @classmethod
    def _policy(cls, value: str) -> str:
        return str(Policy.parse(value))


class Settings(BaseSettings):
    """The effective configuration of one tweet-triage process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    profile: Literal["local", "azure"] = Field("local", description="Which set of services to talk to.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    stack: StackSettings = StackSettings()
    kafka: KafkaSettings = KafkaSettings()
    cosmos: CosmosSettings = CosmosSettings()
    mlflow: MlflowSettings = MlflowSettings()
    azureml: AzureMlSettings = AzureMlSettings()
    data: DataSettings = DataSettings()
    api: ApiSettings = ApiSettings()
    dashboard: DashboardSettings = DashboardSettings()
    monitor: MonitorSettings = MonitorSettings()
    alerts: AlertSettings = AlertSettings()
    retrain: RetrainSettings = RetrainSettings()
    gate: GateSettings = GateSettings()

    @model_validator(mode="after")
    def _check_profile(self) -> Settings:
        if self.profile == "azure":
            missing = [
                env_name(path)
                for path, value in (
                    (("cosmos", "endpoint"), self.cosmos.endpoint),
                    (("mlflow", "tracking_uri"), self.mlflow.tracking_uri),
                )
                if value is None
            ]
            if not self.kafka.uses_eventhubs:
                missing.insert(
                    0,
                    f"{env_name(('kafka', 'eventhubs_namespace'))} (Entra ID) or "
                    f"{env_name(('kafka', 'eventhubs_connection_string'))}",
                )
            if self.cosmos.key.get_secret_value() == COSMOS_EMULATOR_KEY:
                missing.append(env_name(("cosmos", "key")))
            if missing:
                raise ValueError("the azure profile needs " + ", ".join(missing))
        if self.kafka.eventhubs_connection_string is not None and not _EVENTHUBS_ENDPOINT.search(
            self.kafka.eventhubs_connection_string.get_secret_value()
        ):
            raise ValueError(
                f"{env_name(('kafka', 'eventhubs_connection_string'))} is not an Event Hubs connection string "
                "(expected 'Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...')"
            )
        return self

    # ---- derived endpoints -------------------------------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        if self.kafka.bootstrap_servers:
            return self.kafka.bootstrap_servers
        if self.kafka.eventhubs_connection_string is not None:
            match = _EVENTHUBS_ENDPOINT.search(self.kafka.eventhubs_connection_string.get_secret_value())
            assert match is not None  # checked by the validator
            return f"{match['host']}:9093"
        if self.kafka.eventhubs_namespace is not None:
            return f"{self.kafka.eventhubs_namespace}:9093"
        return f"{self.stack.host}:{self.stack.kafka_port}"

    @property
    def cosmos_endpoint(self) -> str:
        return self.cosmos.endpoint or f"http://{self.stack.host}:{self.stack.cosmos_port}"

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.mlflow.tracking_uri or f"http://{self.stack.host}:{self.stack.mlflow_port}"

    @property
    def api_reads_need_key(self) -> bool:
        return self.api.protect_reads if self.api.protect_reads is not None else self.profile == "azure"

    @property
    def api_url(self) -> str:
        """Where the dashboard (and the demo) reach the scoring API."""
        host = "127.0.0.1" if self.api.host == "0.0.0.0" else self.api.host
        return (self.dashboard.api_url or f"http://{host}:{self.api.port}").rstrip("/")


def local_stack_hint(settings: Settings) -> str:
    """What to add to "cannot reach <service>" messages: locally, the stack may simply not be running."""
    return " Is the local stack running (`triage stack up`)?" if settings.profile == "local" else ""


@dataclass(frozen=True)
class SettingRow:
    """One line of `triage config show`."""

    variable: str
    value: str
    secret: bool


def env_name(path: tuple[str | int, ...]) -> str:
    """The environment variable that sets the field at ``path`` (e.g. ``("stack", "kafka_port")``)."""
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(part).upper() for part in path)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and ``.env``), failing with a message that names each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(part for part in error["loc"] if part != "__root__")
            where = env_name(location) if location else "settings"
            message = error["msg"].removeprefix("Value error, ")
            named = not location or message.startswith(ENV_PREFIX)  # the validator named the variable itself
            problems.append(message if named else f"{where}: {message}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None


def to_environment(settings: Settings) -> dict[str, str]:
    """The settings as ``TRIAGE_*`` variables (secrets included): what a child process needs to see the same."""
    env: dict[str, str] = {}

    def walk(model: BaseModel, path: tuple[str, ...]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, (*path, name))
            elif value is not None:
                env[env_name((*path, name))] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    walk(settings, ())
    return env


def describe(settings: Settings) -> list[SettingRow]:
    """Flatten the effective settings into rows, secrets masked."""
    rows: list[SettingRow] = []

    def walk(model: BaseModel, path: tuple[str, ...]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, (*path, name))
                continue
            secret = isinstance(value, SecretStr)
            shown = _mask(value) if secret else ("" if value is None else str(value))
            rows.append(SettingRow(variable=env_name((*path, name)), value=shown, secret=secret))

    walk(settings, ())
    rows.extend(
        [
            SettingRow("(derived) kafka bootstrap", settings.kafka_bootstrap, secret=False),
            SettingRow("(derived) cosmos endpoint", settings.cosmos_endpoint, secret=False),
            SettingRow("(derived) mlflow tracking uri", settings.mlflow_tracking_uri, secret=False),
        ]
    )
    return rows


def _mask(secret: SecretStr) -> str:
    raw = secret.get_secret_value()
    if not raw:
        return ""
    if raw == COSMOS_EMULATOR_KEY:
        return "(local emulator key)"
    return "********" + (f" ({len(raw)} chars)" if len(raw) > 8 else "")
