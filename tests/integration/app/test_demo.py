"""The README's main command from nothing: `triage demo` on an empty state folder (no registry, no model) starts the
stack, trains and registers the bootstrap model, records its approval, streams, and its summary says every tweet was
stored with no dead letter; a second run, with the model present, does the same without training."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA_MIRROR, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIAGE = str(Path(sys.executable).with_name("triage"))
LIMIT = 40  # tweets replayed per run
BOOTSTRAP_SAMPLES = 300  # the bootstrap model trains on this many tweets: the path, not the model, is under test


@pytest.fixture
def demo_env(tmp_path: Path, node_dir: Path) -> Iterator[dict[str, str]]:
    """A newcomer's environment: an empty state folder, every port free, the dataset mirror, an 80-column terminal;
    the stack the demo leaves running is stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(
        {
            "TRIAGE_STACK__STATE_DIR": str(tmp_path / "state"),
            "TRIAGE_STACK__NODE_DIR": str(node_dir),  # installed once per session (`make setup` did it for users)
            "TRIAGE_DATA__DATA_DIR": str(tmp_path / "state" / "data"),
            "COLUMNS": "80",
            "TRIAGE_TEST_WORKER_PORT": str(free_port()),  # not a setting: the demo's --worker-port
            # the monitor calibrates its detectors on its first start: smaller calibration, same code path
            "TRIAGE_MONITOR__ERT": "5000",
            "TRIAGE_MONITOR__N_BOOTSTRAPS": "50000",
            "TRIAGE_MONITOR__OUTPUT_N_BOOTSTRAPS": "10000",
        }
        | {
            f"TRIAGE_{name}": str(free_port())
            for name in (
                "STACK__KAFKA_PORT",
                "STACK__COSMOS_PORT",
                "STACK__MLFLOW_PORT",
                "STACK__OBJECTS_PORT",
                "MONITOR__WEB_PORT",
                "API__PORT",
                "DASHBOARD__PORT",
            )
        }
    )
    if DATA_MIRROR:  # CI's copy of the dataset (no internet); without it the demo downloads it, as a user's would
        env["TRIAGE_DATA__MIRROR_DIR"] = DATA_MIRROR
    try:
        yield env
    finally:
        subprocess.run([TRIAGE, "stack", "down", "--force"], env=env, capture_output=True, timeout=300, check=False)


def demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            TRIAGE,
            "demo",
            "--limit",
            str(LIMIT),
            "--rate",
            "50",
            "--worker-port",
            env["TRIAGE_TEST_WORKER_PORT"],  # one port for both runs, as a user's default: the second run reuses it
            "--bootstrap-samples",
            str(BOOTSTRAP_SAMPLES),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Traceback" not in done.stdout + done.stderr
    return done


def summary_count(output: str, row: str) -> int:
    """The number in the summary row that starts with ``row``."""
    found = re.search(rf"{row}\W+(\d[\d,]*)", output)
    assert found is not None, f"no {row!r} row in the summary:\n{output[-3000:]}"
    return int(found.group(1).replace(",", ""))


def test_the_readme_main_command_works_from_nothing_and_again(demo_env: dict[str, str]) -> None:
    assert not Path(demo_env["TRIAGE_STACK__STATE_DIR"]).exists()

    first = demo(demo_env).stdout
    assert "no production model yet" in first
    assert "BOOTSTRAP approval recorded" in first
    assert summary_count(first, "tweets published") == LIMIT
    assert summary_count(first, "predictions stored") == LIMIT
    assert summary_count(first, "dead letters") == 0

    second = demo(demo_env).stdout
    assert "no production model yet" not in second
    assert "production model:" in second
    assert summary_count(second, "predictions stored") == LIMIT
    assert summary_count(second, "dead letters") == 0

    approvals = subprocess.run(
        [TRIAGE, "model", "approvals", "--verify"], env=demo_env, capture_output=True, text=True, check=False
    )
    assert approvals.returncode == 0, approvals.stdout + approvals.stderr
    assert "bootstrap" in approvals.stdout.lower()
