"""The approval log contract (tests/contracts/approvals.py) against the in-memory twin the unit tests use."""

from __future__ import annotations

import pytest

from tests.contracts.approvals import ApprovalLogContract, LogSubject
from tests.twins.approvals import InMemoryApprovalLog


@pytest.fixture
def approval_subject() -> LogSubject:
    log = InMemoryApprovalLog("contract")
    log.LOCK_TIMEOUT_S = 0.2
    return LogSubject(log, tamper=log)


class TestInMemoryApprovalLog(ApprovalLogContract):
    pass
