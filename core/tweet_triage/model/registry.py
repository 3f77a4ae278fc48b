"""The MLflow model registry as tweet-triage uses it: versions with lineage tags, aliases `candidate`/`production`.

Aliases, not the deprecated stages. Downloads are cached per version under ``STATE_DIR/models`` (versions are
immutable, so a cached copy never goes stale).

A missing version or alias (:class:`ModelNotFound`) and a registry that cannot answer (:class:`RegistryUnavailable`)
are different errors: only the first may ever be read as "there is no production model".

Callers depend on two protocols rather than on :class:`Registry`: :class:`RegistryReader` (serving and monitoring
read versions, aliases and packages) and :class:`ModelRegistry` (training and promotion also register versions, tag
them and move aliases). ``tests.twins.registry.InMemoryRegistry`` implements both for fast tests; the contract in
``tests/contracts/registry.py`` holds both implementations to the same behaviour.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tweet_triage.errors import ModelError, ModelNotFound, RegistryUnavailable
from tweet_triage.model.gate import GateVerdict
from tweet_triage.model.package import check_package
from tweet_triage.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

CANDIDATE = "candidate"
PRODUCTION = "production"
PACKAGE_ARTIFACT_PATH = "model_package"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...]
    tags: dict[str, str]
    created_ms: int
    description: str

    @property
    def gate(self) -> GateVerdict | None:
        """The gate's verdict on this version (None: never gated)."""
        return GateVerdict.from_tags(self.tags)

    @property
    def gate_passed(self) -> bool:
        return self.gate is not None and self.gate.passed


class RegistryReader(Protocol):
    """Reading a model's versions: by number or alias, all of them, and a version's package folder."""

    @property
    def name(self) -> str: ...

    def get(self, ref: str) -> ModelVersion:
        """A version by number or alias; :class:`ModelNotFound` if there is none, :class:`RegistryUnavailable` if
        the registry cannot answer."""
        ...

    def find(self, ref: str) -> ModelVersion | None:
        """Like :meth:`get`, but None for "no such version or alias" (an unreachable registry still raises)."""
        ...

    def versions(self) -> list[ModelVersion]:
        """Every version, newest first."""
        ...

    def download(self, version: ModelVersion) -> Path:
        """A local folder holding the package of ``version``."""
        ...


class ModelRegistry(RegistryReader, Protocol):
    """A registry that also takes new versions (each becomes the ``candidate``), version tags and alias moves."""

    def register(self, run_id: str, package_dir: Path, tags: dict[str, str], description: str) -> ModelVersion:
        """Add the package as a new version with ``tags`` (and the package's decision tags); point ``candidate``
        at it."""
        ...

    def set_tags(self, version: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags of ``version``; :class:`ModelNotFound` if it does not exist."""
        ...

    def move_alias(self, alias: str, version: str | None) -> None:
        """Point ``alias`` at ``version`` (None: remove it); :class:`ModelNotFound` if the version does not exist."""
        ...


class Registry:
    """:class:`ModelRegistry` on an MLflow tracking server."""

    def __init__(self, settings: Settings, client: MlflowClient | None = None) -> None:
        self._settings = settings
        self.name = settings.mlflow.model_name
        self.experiment = settings.mlflow.experiment
        self._cache = settings.stack.state_dir / "models" / self.name
        if client is None:
            from mlflow.tracking import MlflowClient

            uri = settings.mlflow_tracking_uri
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.client = client

    # ---- reading ------------------------------------------------------------------------------------------------

    def get(self, ref: str) -> ModelVersion:
        """A version by number (``"3"``) or alias (``"production"``, ``"candidate"``)."""
        from mlflow.exceptions import MlflowException

        try:
            mv = (
                self.client.get_model_version(self.name, ref)
                if ref.isdigit()
                else self.client.get_model_version_by_alias(self.name, ref)
            )
        except MlflowException as exc:
            what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
            if is_not_found(exc):
                raise ModelNotFound(f"model {self.name!r} has no {what} in the registry at {self._uri}") from exc
            raise RegistryUnavailable(
                f"cannot read {what} of {self.name!r} from the registry at {self._uri}: {exc}"
            ) from exc
        return self._convert(mv)

    def find(self, ref: str) -> ModelVersion | None:
        """Like :meth:`get`, but None when the registry says the version or alias does not exist. A registry that
        cannot answer raises :class:`RegistryUnavailable`: that is never "no such model"."""
        try:
            return self.get(ref)
        except ModelNotFound:
            return None

    def versions(self) -> list[ModelVersion]:
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name = '{self.name}'")
        except MlflowException as exc:
            raise RegistryUnavailable(f"cannot list versions of {self.name!r} at {self._uri}: {exc}") from exc
        # search_model_versions does not return aliases; read each version to get them.
        return sorted((self.get(str(mv.version)) for mv in found), key=lambda v: int(v.version), reverse=True)

    def download(self, version: ModelVersion) -> Path:
        """The package folder of ``version``, downloaded once and cached."""
        target = self._cache / version.version
        if target.exists():
            return target
        if version.run_id is None:
            raise ModelError(f"{self.name} v{version.version} has no source run to download from")
        self._cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._cache) as tmp:
            local = self.client.download_artifacts(version.run_id, PACKAGE_ARTIFACT_PATH, tmp)
            check_package(Path(local))
            try:
                Path(local).rename(target)  # atomic: another process (the worker beside the monitor) may win the race
            except OSError:
                if not target.is_dir():
                    raise
        return target

    # ---- writing ------------------------------------------------------------------------------------------------

    def register(self, run_id: str, package_dir: Path, tags: dict[str, str], description: str) -> ModelVersion:
        """Log the package to ``run_id``, register it as a new version and point the ``candidate`` alias at it.

        The version's tags also say how the package decides (its operating point and training languages), read from
        the package itself, so every registered version shows them whoever registers it."""
        from mlflow.exceptions import MlflowException

        meta = check_package(package_dir)
        tags = {**meta.decision_tags(), **tags}
        self.client.log_artifacts(run_id, str(package_dir), PACKAGE_ARTIFACT_PATH)
        with contextlib.suppress(MlflowException):  # already registered
            self.client.create_registered_model(self.name, description="Disaster-tweet triage classifier")
        run = self.client.get_run(run_id)
        mv = self.client.create_model_version(
            self.name,
            source=f"{run.info.artifact_uri}/{PACKAGE_ARTIFACT_PATH}",
            run_id=run_id,
            tags=tags,
            description=description,
        )
        self.client.set_registered_model_alias(self.name, CANDIDATE, mv.version)
        return self.get(str(mv.version))

    def copy(self, source: ModelVersion, tags: dict[str, str]) -> ModelVersion:
        """Register ``source`` (a version of any model in this registry) as a new version of this model, from the
        same run's package (nothing is uploaded again), with ``tags`` over its own, and point ``candidate`` at it."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.copy_model_version(f"models:/{source.name}/{source.version}", self.name)
        except MlflowException as exc:
            raise self._error(f"cannot copy {source.name} v{source.version} to {self.name!r}", exc) from exc
        self.set_tags(str(mv.version), tags)
        self.move_alias(CANDIDATE, str(mv.version))
        return self.get(str(mv.version))

    def set_tags(self, version: str, tags: dict[str, str]) -> None:
        from mlflow.exceptions import MlflowException

        try:
            for key, value in tags.items():
                self.client.set_model_version_tag(self.name, version, key, value)
        except MlflowException as exc:
            raise self._error(f"cannot tag version {version} of {self.name!r}", exc) from exc

    def move_alias(self, alias: str, version: str | None) -> None:
        """Point ``alias`` at ``version`` (None: remove it); only the promotion service moves ``production``."""
        from mlflow.exceptions import MlflowException

        try:
            if version is None:
                self.client.delete_registered_model_alias(self.name, alias)
            else:
                self.client.set_registered_model_alias(self.name, alias, version)
        except MlflowException as exc:
            raise self._error(f"cannot move alias {alias!r} of {self.name!r}", exc) from exc

    # ---- helpers ------------------------------------------------------------------------------------------------

    @property
    def _uri(self) -> str:
        return self._settings.mlflow_tracking_uri

    def _error(self, what: str, exc: Exception) -> ModelError:
        """``exc`` as :class:`ModelNotFound` when MLflow says something does not exist, else as an outage."""
        if is_not_found(exc):
            return ModelNotFound(f"{what} in the registry at {self._uri}: {exc}")
        return RegistryUnavailable(f"{what} at {self._uri}: {exc}")

    def _convert(self, mv: object) -> ModelVersion:
        return ModelVersion(
            name=self.name,
            version=str(mv.version),  # type: ignore[attr-defined]
            run_id=mv.run_id,  # type: ignore[attr-defined]
            aliases=tuple(mv.aliases or ()),  # type: ignore[attr-defined]
            tags=dict(mv.tags or {}),  # type: ignore[attr-defined]
            created_ms=int(mv.creation_timestamp or 0),  # type: ignore[attr-defined]
            description=mv.description or "",  # type: ignore[attr-defined]
        )


def is_not_found(exc: Exception) -> bool:
    """Whether an MLflow error means "does not exist" (a missing alias comes back as an invalid parameter)."""
    code = getattr(exc, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc))
