"""Where the project's source tree and pinned dependencies are (Azure ML uploads the tree as the jobs' code)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from tweet_triage.errors import UsageError
from tweet_triage.settings import Settings

# deploy/tweet_triage/deploy/azureml/source.py -> the repository root
_REPO_ROOT = Path(__file__).resolve().parents[4]
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)")
PROJECT = "tweet-triage"


@dataclass(frozen=True)
class SourceTree:
    """A checkout of tweet-triage: the folder Azure ML snapshots as code, and its constraints file."""

    root: Path

    @property
    def constraints(self) -> Path:
        return self.root / "constraints.txt"

    @classmethod
    def for_settings(cls, settings: Settings) -> SourceTree:
        """``TRIAGE_AZUREML__SOURCE_DIR`` if set (installed images), else the checkout this module runs from."""
        return cls.locate(settings.azureml.source_dir)

    @classmethod
    def locate(cls, root: Path | None = None) -> SourceTree:
        tree = cls(root or _REPO_ROOT)
        if not (tree.root / "pyproject.toml").is_file() or not tree.constraints.is_file():
            raise UsageError(
                f"{tree.root} is not a tweet-triage source tree (no pyproject.toml/constraints.txt): Azure ML jobs "
                "upload the source; set TRIAGE_AZUREML__SOURCE_DIR to a checkout"
            )
        return tree


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(constraints: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line (names normalized)."""
    pins: dict[str, str] = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalize(match["name"])] = match["version"]
    return pins


def dependency_closure(extras: tuple[str, ...]) -> set[str]:
    """Normalized names of every distribution ``tweet-triage[extras]`` needs, from the installed metadata."""
    wanted: list[tuple[str, frozenset[str]]] = [(PROJECT, frozenset(extras))]
    seen: set[str] = set()
    while wanted:
        name, active = wanted.pop()
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            requires = []  # not installed here (e.g. a platform-specific dependency): keep its pin only
        for spec in requires:
            req = Requirement(spec)
            environments = [{"extra": extra} for extra in active] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in environments):
                continue
            key = normalize(req.name)
            if key == PROJECT:  # self-references such as tweet-triage[train,...] in the `all` extra
                wanted.append((PROJECT, frozenset(req.extras)))
                continue
            if key not in seen:
                seen.add(key)
                wanted.append((req.name, frozenset(req.extras)))
    return seen
