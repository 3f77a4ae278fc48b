"""Facts about where a model came from: code version and software environment."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path


def git_commit(cwd: Path | None = None) -> str:
    """The checked-out commit (with "+dirty" when there are uncommitted changes), or "unknown" outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def package_version() -> str:
    try:
        return version("tweet-triage")
    except PackageNotFoundError:
        return "unknown"


def environment() -> dict[str, str]:
    """Python, platform and every installed distribution with its version."""
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"])
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tweet_triage": package_version(),
        "requirements": "\n".join(packages),
    }
