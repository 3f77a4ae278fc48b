"""What every :class:`~tweet_triage.model.registry.ModelRegistry` does, written once and run twice.

A test module runs the cases by subclassing :class:`RegistryContract` and defining the ``registry_subject`` fixture,
a fresh model nobody else uses: tests/unit/contracts/test_registry_twin.py with ``tests.twins.registry``,
tests/integration/contracts/test_registry_contract.py with the MLflow ``Registry`` on the local tracking server.
The class is not named ``Test*``, so pytest collects it only through a subclass.
"""

from __future__ import annotations

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


class RegistryContract:
    """The cases, each on a fresh ``registry_subject`` fixture the subclass defines."""

    def test_an_empty_registry_finds_nothing(self, registry_subject: RegistrySubject) -> None:
        registry = registry_subject.registry
        for ref in ("1", PRODUCTION, CANDIDATE):
            with pytest.raises(ModelNotFound):
                registry.get(ref)
            assert registry.find(ref) is None
        assert registry.versions() == []

    def test_register_adds_the_next_version_as_the_candidate(self, registry_subject: RegistrySubject) -> None:
        subject, registry = registry_subject, registry_subject.registry
        first = registry.register(subject.run_id, subject.package, {"dataset.version": "d1"}, "trained on d1")
        assert (first.name, first.version, first.aliases) == (registry.name, "1", (CANDIDATE,))
        assert (first.run_id, first.description) == (subject.run_id, "trained on d1")
        assert first.tags == {**subject.meta.decision_tags(), "dataset.version": "d1"}  # the package's tags too
        assert first.gate is None and not first.gate_passed
        assert registry.get(CANDIDATE) == first == registry.get("1")

        assert register(subject, "trained on d2", languages="en,fr") == "2"
        assert registry.get(CANDIDATE).version == "2"
        assert registry.get("2").tags["languages"] == "en,fr"  # the caller's tags win over the package's
        assert registry.get("1").aliases == ()
        assert [v.version for v in registry.versions()] == ["2", "1"]  # newest first
        assert registry.versions()[1] == registry.get("1")

    def test_an_alias_points_at_one_version_until_moved_or_removed(self, registry_subject: RegistrySubject) -> None:
        registry = registry_subject.registry
        v1, v2 = register(registry_subject, "one"), register(registry_subject, "two")
        registry.move_alias(PRODUCTION, v1)
        assert registry.get(PRODUCTION).version == v1 and registry.get(v1).aliases == (PRODUCTION,)
        registry.move_alias(PRODUCTION, v2)
        assert registry.get(PRODUCTION).version == v2
        assert sorted(registry.get(v2).aliases) == sorted((CANDIDATE, PRODUCTION)) and registry.get(v1).aliases == ()
        registry.move_alias(PRODUCTION, None)
        assert registry.find(PRODUCTION) is None and registry.get(v2).aliases == (CANDIDATE,)
        registry.move_alias(PRODUCTION, None)  # removing an alias that is not there changes nothing
        assert registry.find(PRODUCTION) is None

    def test_an_alias_cannot_point_at_a_missing_version(self, registry_subject: RegistrySubject) -> None:
        registry = registry_subject.registry
        v1 = register(registry_subject, "one")
        registry.move_alias(PRODUCTION, v1)
        with pytest.raises(ModelNotFound):
            registry.move_alias(PRODUCTION, "42")
        assert registry.get(PRODUCTION).version == v1

    def test_tags_are_added_and_overwritten_per_version(self, registry_subject: RegistrySubject) -> None:
        registry = registry_subject.registry
        v1, v2 = register(registry_subject, "one", note="kept"), register(registry_subject, "two")
        registry.set_tags(v1, GateVerdict(True, "f1 0.81 >= 0.75").to_tags())
        registry.set_tags(v1, GateVerdict(False, "f1 0.70 < 0.75").to_tags())
        assert registry.get(v1).gate == GateVerdict(False, "f1 0.70 < 0.75") and not registry.get(v1).gate_passed
        assert registry.get(v1).tags["note"] == "kept"
        assert registry.get(v2).gate is None
        with pytest.raises(ModelNotFound):
            registry.set_tags("42", {"note": "nowhere"})

    def test_download_gives_the_registered_package(self, registry_subject: RegistrySubject) -> None:
        registry = registry_subject.registry
        version = registry.get(register(registry_subject, "one"))
        folder = registry.download(version)
        assert PackageMeta.read(folder) == registry_subject.meta
        assert registry.download(version) == folder  # versions are immutable: the same folder every time
