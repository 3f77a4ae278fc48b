"""Shared fixtures: isolated settings on free ports, and one real local stack per test run (shared by every
pytest-xdist worker, see tests/shared.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.shared import built, create_shared_dir, forget_shared_dir, is_controller, once, shared_dir
from tweet_triage.app.stack.install import install_cosmos_server
from tweet_triage.app.stack.manager import StackManager
from tweet_triage.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# Read once, before the autouse fixture hides TRIAGE_* variables from each test (CI sets it to ../shared/data).
DATA_MIRROR = os.environ.get("TRIAGE_DATA__MIRROR_DIR")


@pytest.hookimpl(trylast=True)  # after pytest's own tmp_path plugin is configured
def pytest_configure(config: pytest.Config) -> None:
    if is_controller(config):
        create_shared_dir(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller stops the shared stack once every worker is done with it."""
    if not is_controller(config):
        return
    try:
        settings = built("stack", Settings)
        if settings is not None:
            StackManager(settings).down()
    finally:
        forget_shared_dir()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see the developer's TRIAGE_* variables or .env file."""
    for name in list(os.environ):
        if name.startswith("TRIAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def node_dir() -> Path:
    """The npm-installed Cosmos DB server, shared by all tests (installed once if missing)."""
    path = Path(os.environ.get("TRIAGE_TEST_NODE_DIR", REPO_ROOT / ".triage" / "node"))
    once("node", lambda: install_cosmos_server(path))
    return path


def make_stack_settings(
    state_dir: Path, node_dir: Path, *, stack_extra: dict[str, object] | None = None, **overrides: object
) -> Settings:
    stack: dict[str, object] = {
        "state_dir": state_dir,
        "node_dir": node_dir,
        "kafka_port": free_port(),
        "cosmos_port": free_port(),
        "mlflow_port": free_port(),
        "objects_port": free_port(),
        "startup_timeout_s": 120,
        **(stack_extra or {}),
    }
    return load_settings(stack=stack, **overrides)


@pytest.fixture(scope="session")
def local_stack(node_dir: Path) -> Settings:
    """The real local services, started once for the whole run by the first test that needs them and stopped at
    its end (:func:`pytest_unconfigure`)."""

    def start() -> Settings:
        settings = make_stack_settings(shared_dir() / "stack", node_dir)
        StackManager(settings).up()
        return settings

    return once("stack", start)
