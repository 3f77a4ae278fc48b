"""The approval log contract, held against the MLflow ``ApprovalLog`` on the real local tracking server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.contracts.subjects import mlflow_approval_log
from tests.unit.contracts.approval_contract import CHECKS, LogSubject
from tweet_triage.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_mlflow_approval_log(check: Callable[[LogSubject], None], local_stack: Settings) -> None:
    check(mlflow_approval_log(local_stack))
