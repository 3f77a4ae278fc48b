"""The registry contract (tests/contracts/registry.py) against the MLflow ``Registry`` on the local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contracts.registry import RegistryContract, RegistrySubject
from tests.integration.contracts.subjects import mlflow_registry
from tweet_triage.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def registry_subject(local_stack: Settings, tmp_path: Path) -> RegistrySubject:
    return mlflow_registry(local_stack, tmp_path)


class TestMlflowRegistry(RegistryContract):
    pass
