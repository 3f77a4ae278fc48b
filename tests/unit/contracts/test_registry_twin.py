"""The registry contract, held against the in-memory twin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.twins.packages import write_package
from tests.twins.registry import InMemoryRegistry
from tests.unit.contracts.registry_contract import CHECKS, RegistrySubject


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_in_memory_registry(check: Callable[[RegistrySubject], None], tmp_path: Path) -> None:
    package = tmp_path / "package"
    check(RegistrySubject(InMemoryRegistry("contract"), "run-1", package, write_package(package)))
