"""The registry contract, held against the MLflow ``Registry`` on the real local tracking server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.contracts.subjects import mlflow_registry
from tests.unit.contracts.registry_contract import CHECKS, RegistrySubject
from tweet_triage.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_mlflow_registry(check: Callable[[RegistrySubject], None], local_stack: Settings, tmp_path: Path) -> None:
    check(mlflow_registry(local_stack, tmp_path))
