"""Imports sit at the top of the module, so a name is bound on every path through a function; only the heavy optional
dependencies listed once in pyproject.toml are imported where they are needed — and the CLI loads none of them."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

from tests.unit.layout.import_rules import ROOT

DEFERRED: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"][
    "flake8-tidy-imports"
]["banned-module-level-imports"]


DASHBOARD_EXTRA = ("streamlit", "altair", "pydeck")  # the Streamlit page only runs under `streamlit run`


def lint(source: str, filename: str = "core/tweet_triage/example.py") -> set[str]:
    """The rule codes ruff reports for ``source`` as if it were ``filename`` of this project (its configuration)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "json", "--stdin-filename", filename, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr  # 2: ruff itself failed
    return {finding["code"] for finding in json.loads(done.stdout)}


PROJECT_IMPORT_IN_A_BRANCH = '''"""Example."""


def version(current: str | None) -> str:
    if current is not None:
        from tweet_triage.settings import Settings

        return str(Settings)
    return str(Settings)
'''


def test_a_project_import_inside_a_function_fails_the_lint() -> None:
    assert "PLC0415" in lint(PROJECT_IMPORT_IN_A_BRANCH)


def test_a_light_third_party_import_inside_a_function_fails_the_lint_too() -> None:
    assert "PLC0415" in lint('"""Example."""\n\n\ndef f() -> object:\n    import httpx\n\n    return httpx\n')


@pytest.mark.parametrize("module", ["torch", "alibi_detect", "azure.ai.ml", "mlflow"])
def test_a_listed_heavy_dependency_belongs_inside_the_function(module: str) -> None:
    inside = f'"""Example."""\n\n\ndef f() -> object:\n    import {module}\n\n    return {module}\n'
    at_top = f'"""Example."""\n\nimport {module}\n\n\ndef f() -> object:\n    return {module}\n'
    assert lint(inside) == set()
    assert "TID253" in lint(at_top)


def test_the_list_names_the_dependencies_the_issue_asks_for() -> None:
    assert {"torch", "transformers", "alibi_detect", "azure.ai.ml"} <= set(DEFERRED)


def test_the_cli_loads_none_of_the_deferred_dependencies() -> None:
    """`triage --help` (and every service the CLI starts) must work on the core install, without the extras, and
    start fast: importing the CLI with all its command groups pulls in no deferred module."""
    probe = "import json, sys; import tweet_triage.app.cli.main; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(json.loads(done.stdout))
    extras_only = [*DEFERRED, *DASHBOARD_EXTRA]
    pulled = sorted(m for m in extras_only if any(name == m or name.startswith(m + ".") for name in loaded))
    assert pulled == []
