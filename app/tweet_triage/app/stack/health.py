"""Protocol-level health checks for the local services.

Each check talks the service's real protocol (a Kafka ApiVersions request, the Cosmos DB account endpoint, MLflow's
``/health``) and returns a :class:`HealthResult` instead of raising, so callers can poll it.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass

import httpx

_API_VERSIONS_KEY = 18
_CORRELATION_ID = 0x7417


@dataclass(frozen=True)
class HealthResult:
    healthy: bool
    detail: str


def kafka_api_versions(host: str, port: int, timeout_s: float = 2.0) -> HealthResult:
    """Send a Kafka ApiVersions v0 request and check the broker answers it without error."""
    client_id = b"tweet-triage-health"
    header = struct.pack(">hhih", _API_VERSIONS_KEY, 0, _CORRELATION_ID, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            conn.sendall(struct.pack(">i", len(header)) + header)
            size = struct.unpack(">i", _recv_exact(conn, 4))[0]
            body = _recv_exact(conn, size)
    except (OSError, struct.error) as exc:
        return HealthResult(False, f"no Kafka answer on {host}:{port}: {exc}")
    correlation_id, error_code = struct.unpack(">ih", body[:6])
    if correlation_id != _CORRELATION_ID:
        return HealthResult(False, f"unexpected correlation id {correlation_id} from {host}:{port}")
    if error_code != 0:
        return HealthResult(False, f"ApiVersions error code {error_code} from {host}:{port}")
    (api_count,) = struct.unpack(">i", body[6:10])
    return HealthResult(True, f"Kafka protocol OK ({api_count} APIs)")


def cosmos_account(endpoint: str, timeout_s: float = 2.0) -> HealthResult:
    """Read the Cosmos DB database-account resource, which every Cosmos endpoint serves at its root."""
    try:
        response = httpx.get(endpoint.rstrip("/") + "/", timeout=timeout_s)
        account = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        return HealthResult(False, f"no Cosmos DB answer at {endpoint}: {exc}")
    if not isinstance(account, dict) or "writableLocations" not in account:
        return HealthResult(False, f"{endpoint} answered HTTP {response.status_code} without a database account")
    return HealthResult(True, "Cosmos DB account endpoint OK")


def mlflow_server(tracking_uri: str, timeout_s: float = 2.0) -> HealthResult:
    """MLflow's own liveness endpoint plus one real API call (the store is reachable)."""
    base = tracking_uri.rstrip("/")
    try:
        health = httpx.get(f"{base}/health", timeout=timeout_s)
        search = httpx.post(f"{base}/api/2.0/mlflow/experiments/search", json={"max_results": 1}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return HealthResult(False, f"no MLflow answer at {base}: {exc}")
    if health.status_code != 200 or search.status_code != 200:
        return HealthResult(False, f"MLflow at {base} answered {health.status_code}/{search.status_code}")
    return HealthResult(True, "MLflow tracking API OK")


def http_ok(url: str, what: str, timeout_s: float = 2.0) -> HealthResult:
    """A plain HTTP health URL answering 200."""
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return HealthResult(False, f"no {what} answer at {url}: {exc}")
    if response.status_code != 200:
        return HealthResult(False, f"{what} at {url} answered HTTP {response.status_code}")
    return HealthResult(True, f"{what} OK")


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            raise OSError("connection closed before the full answer arrived")
        chunks.extend(chunk)
    return bytes(chunks)
