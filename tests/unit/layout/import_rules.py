"""The import rules between areas, read from the table in docs/architecture.md, and a checker for source files.

The table is the one owner of the rules: this module only parses it and compares it with the code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
_TABLE = re.compile(r"<!-- import-rules -->\n(.*?)<!-- /import-rules -->", re.S)
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Area:
    name: str
    folder: str
    packages: tuple[str, ...]  # module prefixes, e.g. "tweet_triage.stream"
    may_import: frozenset[str]


@dataclass(frozen=True)
class Violation:
    where: str  # file:line
    importer: str  # area
    imported: str  # area
    module: str

    def __str__(self) -> str:
        return f"{self.where}: area {self.importer!r} imports {self.module} (area {self.imported!r})"


def read_areas(markdown: str) -> list[Area]:
    """The rows of the table between ``<!-- import-rules -->`` and ``<!-- /import-rules -->``."""
    found = _TABLE.search(markdown)
    if found is None:
        raise ValueError("docs/architecture.md has no <!-- import-rules --> table")
    areas = []
    for line in found.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("area", "") or set(cells[0]) <= {"-"}:
            continue
        name, folder, packages, allowed = cells
        may = frozenset(a.strip() for a in allowed.replace("*", "").split(",") if a.strip() not in ("", "—", "-"))
        areas.append(Area(name, _CODE.findall(folder)[0].rstrip("/"), tuple(_CODE.findall(packages)), may))
    return areas


def area_of(module: str, areas: Iterable[Area]) -> Area | None:
    """The area whose package prefix is the longest match of ``module``."""
    best: tuple[int, Area] | None = None
    for area in areas:
        for package in area.packages:
            if (module == package or module.startswith(package + ".")) and (best is None or len(package) > best[0]):
                best = (len(package), area)
    return best[1] if best else None


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """Every absolute ``tweet_triage`` import in ``source`` (top level, inside functions, under TYPE_CHECKING)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("tweet_triage."):
                yield node.lineno, name


def check_source(module: str, source: str, where: str, areas: list[Area]) -> list[Violation]:
    importer = area_of(module, areas)
    if importer is None:
        return [Violation(where, "?", "?", module)]
    violations = []
    for line, name in imported_modules(source):
        imported = area_of(name, areas)
        if imported is None:
            continue  # "from tweet_triage.x import name": the module itself is checked
        if (
            imported.name != importer.name
            and "all" not in importer.may_import
            and imported.name not in importer.may_import
        ):
            violations.append(Violation(f"{where}:{line}", importer.name, imported.name, name))
    return violations


def source_files(area: Area) -> Iterator[tuple[str, Path]]:
    """(module name, path) of every Python file in the area's folder."""
    folder = ROOT / area.folder
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        yield ".".join(parts), path
