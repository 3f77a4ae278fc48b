"""The installed `triage` command: clean messages instead of tracebacks, secrets never printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TRIAGE = str(Path(sys.executable).with_name("triage"))


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    return subprocess.run(
        [TRIAGE, *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **env},
        timeout=60,
        check=False,
    )


def listed_commands(help_text: str) -> list[str]:
    """The command names in the Commands box of a help page, in order."""
    box = help_text.split("─ Commands ", 1)[1]
    return re.findall(r"^│ (\S+) ", box, flags=re.MULTILINE)


def test_help_lists_the_command_groups() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert {"config", "stack", "data", "train", "model", "predict", "audit"} <= set(listed_commands(result.stdout))


@pytest.mark.parametrize(
    ("group", "commands"),
    [
        ("data", ("pull", "prepare")),
        ("model", ("list", "promote", "rollback", "quantization-study", "approvals", "compare-shadow")),
        ("audit", ("model",)),
    ],
)
def test_each_group_lists_its_commands(group: str, commands: tuple[str, ...]) -> None:
    result = run(group, "--help")
    assert result.returncode == 0, result.stderr
    assert listed_commands(result.stdout) == list(commands)


def test_config_show_masks_secrets() -> None:
    result = run("config", "show", TRIAGE_COSMOS__KEY="do-not-print-this-key")
    assert result.returncode == 0, result.stderr
    assert "TRIAGE_COSMOS__KEY" in result.stdout
    assert "do-not-print-this-key" not in result.stdout


def test_invalid_setting_is_a_message_naming_the_variable_not_a_traceback() -> None:
    result = run("config", "show", TRIAGE_STACK__MLFLOW_PORT="many")
    assert result.returncode == 2
    assert "TRIAGE_STACK__MLFLOW_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("stack", "logs", "nosuch"), "unknown service 'nosuch'"),
        (("stack", "logs", "broker", "--lines", "0"), "--lines"),
        (("no-such-command",), "No such command"),
        (("dlq", "list", "--reason", "nope"), "'nope' is not one of"),
        (("dlq", "replay", "--since", "yesterday"), "--since: 'yesterday' is neither an ISO-8601 time"),
        (("dlq", "show", "17"), "'17' is not a letter id"),
        (("dlq", "replay", "--limit", "0"), "--limit"),
        (("predict",), "nothing to score"),
        (("predict", "a tweet", "--input", "tweets.csv"), "not both"),
        (("data", "prepare", "--conflicts", "newest"), "--conflicts must be 'majority' or 'drop'"),
        (("model", "promote", "latest", "--approver", "a", "--reason", "r"), "VERSION must be a version number"),
        (("model", "list", "--wide=yes"), "does not take a value"),
        (("alerts", "list", "--wide", "--status", "nope"), "--status must be open, acked or all"),
        (("results", "tail", "--wide", "-n", "0"), "-n"),
    ],
)
def test_bad_arguments_get_a_message(args: tuple[str, ...], expected: str) -> None:
    result = run(*args)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
