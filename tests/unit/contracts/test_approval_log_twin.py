"""The approval log contract, held against the in-memory twin."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.twins.approvals import InMemoryApprovalLog
from tests.unit.contracts.approval_contract import CHECKS, LogSubject


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_in_memory_approval_log(check: Callable[[LogSubject], None]) -> None:
    log = InMemoryApprovalLog("contract")
    log.LOCK_TIMEOUT_S = 0.2
    check(LogSubject(log, tamper=log))
