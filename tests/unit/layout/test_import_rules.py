"""The layout shows the architecture: each area folder holds only its own package and imports only what
docs/architecture.md allows it to."""

from __future__ import annotations

import pytest

from tests.unit.layout.import_rules import ARCHITECTURE, ROOT, Area, area_of, check_source, read_areas, source_files

AREAS = read_areas(ARCHITECTURE.read_text(encoding="utf-8"))


def test_the_table_names_every_area_folder_of_the_package() -> None:
    folders = {area.folder for area in AREAS}
    on_disk = {path.parent.name for path in ROOT.glob("*/tweet_triage")}
    assert folders == on_disk
    assert {"base", "stream", "training", "monitoring", "deploy", "api", "dashboard", "app"} <= {a.name for a in AREAS}


@pytest.mark.parametrize("area", AREAS, ids=lambda a: a.name)
def test_each_folder_holds_only_its_own_packages(area: Area) -> None:
    strays = [module for module, _ in source_files(area) if module != "tweet_triage" and area_of(module, AREAS) != area]
    assert strays == [], f"{area.folder}/ holds modules of other areas: {strays}"


@pytest.mark.parametrize("area", AREAS, ids=lambda a: a.name)
def test_areas_import_only_what_the_table_allows(area: Area) -> None:
    violations = [
        str(v)
        for module, path in source_files(area)
        if module != "tweet_triage"
        for v in check_source(module, path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), AREAS)
    ]
    assert violations == []


def test_the_base_imports_no_area() -> None:
    base = next(a for a in AREAS if a.name == "base")
    assert base.may_import == frozenset()


@pytest.mark.parametrize(
    ("module", "source", "forbidden"),
    [
        ("tweet_triage.store.cosmos", "from tweet_triage.stream.scoring import score_batch\n", "stream"),
        ("tweet_triage.training.pipeline", "def f():\n    import tweet_triage.monitoring.worker\n", "monitoring"),
        ("tweet_triage.api.app", "from tweet_triage.stream import worker\n", "stream"),
        (
            "tweet_triage.monitoring.runtime",
            "from tweet_triage import stream\nfrom tweet_triage.stream.x import y\n",
            "stream",
        ),
    ],
)
def test_the_checker_catches_a_forbidden_import(module: str, source: str, forbidden: str) -> None:
    violations = check_source(module, source, "example.py", AREAS)
    assert [v.imported for v in violations] and {v.imported for v in violations} == {forbidden}


def test_the_checker_lets_allowed_and_same_area_imports_through() -> None:
    source = "from tweet_triage.settings import Settings\nfrom tweet_triage.stream.stories import story_id\n"
    assert check_source("tweet_triage.stream.worker", source, "example.py", AREAS) == []
    assert check_source("tweet_triage.app.demo", "import tweet_triage.training.pipeline\n", "x.py", AREAS) == []
