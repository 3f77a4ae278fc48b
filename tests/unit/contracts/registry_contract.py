"""What every :class:`~tweet_triage.model.registry.ModelRegistry` does, as checks over a fresh, empty model.

Run against ``tests.twins.InMemoryRegistry`` (``test_registry_twin.py``) and against the MLflow ``Registry``
(``tests/integration/contracts``): both suites parametrize over :data:`CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tweet_triage.errors import ModelNotFound
from tweet_triage.model.gate import GateVerdict
from tweet_triage.model.package import PackageMeta
from tweet_triage.model.registry import CANDIDATE, PRODUCTION, ModelRegistry


@dataclass(frozen=True)
class RegistrySubject:
    registry: ModelRegistry  # a model name nobody else uses: no versions yet
    run_id: str  # a run the registry may log packages to
    package: Path  # a package folder (``tests.twins.write_package``)
    meta: PackageMeta  # what that package says about itself


def register(subject: RegistrySubject, description: str, **tags: str) -> str:
    return subject.registry.register(subject.run_id, subject.package, dict(tags), description).version


def check_an_empty_registry_finds_nothing(subject: RegistrySubject) -> None:
    registry = subject.registry
    for ref in ("1", PRODUCTION, CANDIDATE):
        with pytest.raises(ModelNotFound):
            registry.get(ref)
        assert registry.find(ref) is None
    assert registry.versions() == []


def check_register_adds_the_next_version_as_the_candidate(subject: RegistrySubject) -> None:
    registry = subject.registry
    first = registry.register(subject.run_id, subject.package, {"dataset.version": "d1"}, "trained on d1")
    assert (first.name, first.version, first.run_id, first.aliases) == (
        registry.name,
        "1",
        subject.run_id,
        (CANDIDATE,),
    )
    assert first.description == "trained on d1"
    assert first.tags == {**subject.meta.decision_tags(), "dataset.version": "d1"}  # the package's own tags too
    assert first.gate is None and not first.gate_passed
    assert registry.get(CANDIDATE) == first == registry.get("1")

    second = register(subject, "trained on d2", languages="en,fr")  # the caller's tags win over the package's
    assert second == "2"
    assert registry.get(CANDIDATE).version == "2" and registry.get("2").tags["languages"] == "en,fr"
    assert registry.get("1").aliases == ()
    assert [v.version for v in registry.versions()] == ["2", "1"]  # newest first
    assert registry.versions()[1] == registry.get("1")


def check_an_alias_points_at_one_version_until_moved_or_removed(subject: RegistrySubject) -> None:
    registry = subject.registry
    v1, v2 = register(subject, "one"), register(subject, "two")
    registry.move_alias(PRODUCTION, v1)
    assert registry.get(PRODUCTION).version == v1 and registry.get(v1).aliases == (PRODUCTION,)
    registry.move_alias(PRODUCTION, v2)
    assert registry.get(PRODUCTION).version == v2
    assert sorted(registry.get(v2).aliases) == sorted((CANDIDATE, PRODUCTION)) and registry.get(v1).aliases == ()
    registry.move_alias(PRODUCTION, None)
    assert registry.find(PRODUCTION) is None and registry.get(v2).aliases == (CANDIDATE,)
    registry.move_alias(PRODUCTION, None)  # removing an alias that is not there changes nothing
    assert registry.find(PRODUCTION) is None


def check_an_alias_cannot_point_at_a_missing_version(subject: RegistrySubject) -> None:
    registry = subject.registry
    v1 = register(subject, "one")
    registry.move_alias(PRODUCTION, v1)
    with pytest.raises(ModelNotFound):
        registry.move_alias(PRODUCTION, "42")
    assert registry.get(PRODUCTION).version == v1


def check_tags_are_added_and_overwritten_per_version(subject: RegistrySubject) -> None:
    registry = subject.registry
    v1, v2 = register(subject, "one", note="kept"), register(subject, "two")
    registry.set_tags(v1, GateVerdict(True, "f1 0.81 >= 0.75").to_tags())
    registry.set_tags(v1, GateVerdict(False, "f1 0.70 < 0.75").to_tags())
    assert registry.get(v1).gate == GateVerdict(False, "f1 0.70 < 0.75") and not registry.get(v1).gate_passed
    assert registry.get(v1).tags["note"] == "kept"
    assert registry.get(v2).gate is None
    with pytest.raises(ModelNotFound):
        registry.set_tags("42", {"note": "nowhere"})


def check_download_gives_the_registered_package(subject: RegistrySubject) -> None:
    registry = subject.registry
    version = registry.get(register(subject, "one"))
    folder = registry.download(version)
    assert PackageMeta.read(folder) == subject.meta
    assert registry.download(version) == folder  # versions are immutable: the same folder every time


CHECKS: tuple[Callable[[RegistrySubject], None], ...] = (
    check_an_empty_registry_finds_nothing,
    check_register_adds_the_next_version_as_the_candidate,
    check_an_alias_points_at_one_version_until_moved_or_removed,
    check_an_alias_cannot_point_at_a_missing_version,
    check_tags_are_added_and_overwritten_per_version,
    check_download_gives_the_registered_package,
)
