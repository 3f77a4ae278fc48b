"""Install the npm-based Cosmos DB server into a project-local folder from the lock file shipped with the package."""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
from pathlib import Path

from tweet_triage.app.stack.services import COSMOS_LAUNCHER, COSMOS_SERVER_BIN
from tweet_triage.errors import StackError

_MANIFESTS = ("package.json", "package-lock.json")


def install_cosmos_server(node_dir: Path, *, force: bool = False) -> bool:
    """Run ``npm ci`` in ``node_dir`` with the pinned manifest. Returns False when it was already installed."""
    node_dir.mkdir(parents=True, exist_ok=True)
    source = importlib.resources.files("tweet_triage.app.stack") / "node"
    changed = False
    for name in _MANIFESTS:
        content = (source / name).read_bytes()
        target = node_dir / name
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
            changed = True
    launcher = (source / COSMOS_LAUNCHER).read_bytes()
    if not (node_dir / COSMOS_LAUNCHER).exists() or (node_dir / COSMOS_LAUNCHER).read_bytes() != launcher:
        (node_dir / COSMOS_LAUNCHER).write_bytes(launcher)  # no reinstall: it only requires the installed package
    if not force and not changed and (node_dir / COSMOS_SERVER_BIN).is_file():
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise StackError("npm is needed to install the local Cosmos DB server but is not on PATH (install Node.js 20)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--omit=dev"],
        cwd=node_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"`npm ci` failed in {node_dir}:\n{result.stderr[-2000:]}")
    return True
