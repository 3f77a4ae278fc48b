"""A model registry kept in memory: the :class:`~tweet_triage.model.registry.ModelRegistry` twin of ``Registry``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from tweet_triage.errors import ModelError, ModelNotFound, RegistryUnavailable
from tweet_triage.model.package import check_package
from tweet_triage.model.registry import CANDIDATE, ModelVersion


@dataclass
class _Stored:
    run_id: str | None
    tags: dict[str, str]
    description: str
    created_ms: int
    package: Path | None  # None: a bare version (no package to download)


class InMemoryRegistry:
    """Versions numbered from 1 and aliases that point at one version each; asking for a version or alias that
    does not exist is :class:`ModelNotFound`. With ``reachable`` False every call raises
    :class:`RegistryUnavailable`, as a registry that cannot answer does."""

    def __init__(self, name: str = "tweet-triage") -> None:
        self.name = name
        self.reachable = True
        self._versions: dict[str, _Stored] = {}
        self._aliases: dict[str, str] = {}
        self._ticks = itertools.count(1_800_000_000_000)  # creation times, in ms

    # ---- reading ------------------------------------------------------------------------------------------------

    def get(self, ref: str) -> ModelVersion:
        self._answer()
        version = ref if ref.isdigit() else self._aliases.get(ref)
        if version is None or version not in self._versions:
            what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
            raise ModelNotFound(f"model {self.name!r} has no {what} in the registry (in memory)")
        stored = self._versions[version]
        aliases = tuple(sorted(alias for alias, target in self._aliases.items() if target == version))
        return ModelVersion(
            self.name, version, stored.run_id, aliases, dict(stored.tags), stored.created_ms, stored.description
        )

    def find(self, ref: str) -> ModelVersion | None:
        try:
            return self.get(ref)
        except ModelNotFound:
            return None

    def versions(self) -> list[ModelVersion]:
        self._answer()
        return [self.get(version) for version in sorted(self._versions, key=int, reverse=True)]

    def download(self, version: ModelVersion) -> Path:
        """The folder the package was registered from (versions are immutable, so it is the package)."""
        self._answer()
        package = self._versions[version.version].package if version.version in self._versions else None
        if package is None:
            raise ModelError(f"{self.name} v{version.version} has no package to download")
        return package

    # ---- writing ------------------------------------------------------------------------------------------------

    def register(self, run_id: str, package_dir: Path, tags: dict[str, str], description: str) -> ModelVersion:
        self._answer()
        meta = check_package(package_dir)
        version = self._add(run_id, {**meta.decision_tags(), **tags}, description, package_dir)
        self._aliases[CANDIDATE] = version
        return self.get(version)

    def add_version(self, tags: dict[str, str] | None = None, *, run_id: str = "run") -> ModelVersion:
        """A version as a plain MLflow client creates it: no package, no alias (like the bare test versions)."""
        self._answer()
        return self.get(self._add(run_id, dict(tags or {}), "", None))

    def set_tags(self, version: str, tags: dict[str, str]) -> None:
        self._answer()
        self._stored(version).tags.update(tags)

    def move_alias(self, alias: str, version: str | None) -> None:
        self._answer()
        if version is None:
            self._aliases.pop(alias, None)
            return
        self._stored(version)
        self._aliases[alias] = version

    # ---- helpers ------------------------------------------------------------------------------------------------

    def _add(self, run_id: str | None, tags: dict[str, str], description: str, package: Path | None) -> str:
        version = str(len(self._versions) + 1)
        self._versions[version] = _Stored(run_id, tags, description, next(self._ticks), package)
        return version

    def _stored(self, version: str) -> _Stored:
        if version not in self._versions:
            raise ModelNotFound(f"model {self.name!r} has no version {version} in the registry (in memory)")
        return self._versions[version]

    def _answer(self) -> None:
        if not self.reachable:
            raise RegistryUnavailable(f"the registry of {self.name!r} cannot answer (in memory, made unreachable)")
