from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from tweet_triage.app.stack import health


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def fake_kafka() -> Iterator[tuple[int, list[bytes]]]:
    """A one-shot TCP server that answers whatever the test puts in ``answers``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    answers: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            size = struct.unpack(">i", conn.recv(4))[0]
            conn.recv(size)
            conn.sendall(answers[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], answers
    thread.join(timeout=5)
    server.close()


def _frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def test_kafka_check_accepts_a_valid_api_versions_answer(fake_kafka: tuple[int, list[bytes]]) -> None:
    port, answers = fake_kafka
    answers.append(_frame(struct.pack(">ihi", 0x7417, 0, 3) + b"\x00" * 18))
    result = health.kafka_api_versions("127.0.0.1", port)
    assert result.healthy, result.detail
    assert "3 APIs" in result.detail


def test_kafka_check_rejects_an_error_code(fake_kafka: tuple[int, list[bytes]]) -> None:
    port, answers = fake_kafka
    answers.append(_frame(struct.pack(">ihi", 0x7417, 35, 0)))
    result = health.kafka_api_versions("127.0.0.1", port)
    assert not result.healthy
    assert "error code 35" in result.detail


def test_kafka_check_rejects_a_mismatched_correlation_id(fake_kafka: tuple[int, list[bytes]]) -> None:
    port, answers = fake_kafka
    answers.append(_frame(struct.pack(">ihi", 1, 0, 0)))
    assert not health.kafka_api_versions("127.0.0.1", port).healthy


def test_checks_report_unreachable_services_without_raising() -> None:
    port = _closed_port()
    assert not health.kafka_api_versions("127.0.0.1", port, timeout_s=0.5).healthy
    assert not health.cosmos_account(f"http://127.0.0.1:{port}", timeout_s=0.5).healthy
    assert not health.mlflow_server(f"http://127.0.0.1:{port}", timeout_s=0.5).healthy
