"""The approval log contract (tests/contracts/approvals.py) against the MLflow ``ApprovalLog`` on the local server."""

from __future__ import annotations

import pytest

from tests.contracts.approvals import ApprovalLogContract, LogSubject
from tests.integration.contracts.subjects import mlflow_approval_log
from tweet_triage.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def approval_subject(local_stack: Settings) -> LogSubject:
    return mlflow_approval_log(local_stack)


class TestMlflowApprovalLog(ApprovalLogContract):
    pass
