"""The docs name only files that exist: local links, module paths (``*.py``) and paths under a top-level folder."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.unit.layout.import_rules import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
QUOTED = re.compile(r"`([\w.-]+(?:/[\w.-]+)+/?)`")
ABSENT_ON_PURPOSE = {"tweet_triage/__init__.py"}  # the docs say there is none (a namespace package)
IGNORED = {".git", ".venv", ".triage", "node_modules", "__pycache__", "dist", "build"}


@cache
def repository_files() -> tuple[str, ...]:
    return tuple(
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*")
        if p.is_file() and not IGNORED & set(p.relative_to(ROOT).parts)
    )


def top_level_folders() -> set[str]:
    return {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in IGNORED}


def missing_paths(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    missing = []
    for link in LINK.findall(text):
        if "://" not in link and not link.startswith("mailto:") and not (page.parent / link).exists():
            missing.append(link)
    for name in QUOTED.findall(text):
        if name in ABSENT_ON_PURPOSE or "..." in name:
            continue
        if name.endswith(".py"):  # a module: a repository path, or its path inside the package
            if not any(f == name or f.endswith("/" + name) for f in repository_files()):
                missing.append(name)
        elif name.split("/")[0] in top_level_folders() and not _folder_exists(name):
            missing.append(name)
    return sorted(set(missing))


def _folder_exists(name: str) -> bool:
    """At the repository root, or inside the area's package (``app/stack/`` is ``app/tweet_triage/app/stack/``)."""
    area = name.split("/", maxsplit=1)[0]
    return (ROOT / name).exists() or (ROOT / area / "tweet_triage" / name).exists()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_path_a_page_names_exists(page: Path) -> None:
    assert missing_paths(page) == [], f"{page.relative_to(ROOT)} names paths that do not exist"
