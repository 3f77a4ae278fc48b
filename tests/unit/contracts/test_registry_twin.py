"""The registry contract (tests/contracts/registry.py) against the in-memory twin the unit tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contracts.registry import RegistryContract, RegistrySubject
from tests.twins.packages import write_package
from tests.twins.registry import InMemoryRegistry


@pytest.fixture
def registry_subject(tmp_path: Path) -> RegistrySubject:
    package = tmp_path / "package"
    return RegistrySubject(InMemoryRegistry("contract"), "run-1", package, write_package(package))


class TestInMemoryRegistry(RegistryContract):
    pass
