#!/usr/bin/env bash
# Re-resolve constraints.txt in a throw-away venv: torch first, then the project with every extra.
set -euo pipefail
python=${1:-python3.11}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(mktemp -d)/venv
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade "pip>=25"
"$venv/bin/pip" install --quiet torch==2.13.0
"$venv/bin/pip" install --quiet "$root[all,dev]"
"$venv/bin/pip" check
{
  echo "# One resolvable set for every install of tweet-triage (CI, Makefile, users): pip install -c constraints.txt ..."
  echo "# Regenerate with \`make lock\` after changing dependencies in pyproject.toml. Install torch==2.13.0 first."
  "$venv/bin/pip" freeze --exclude tweet-triage | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/'
} > "$root/constraints.txt"
echo "wrote $root/constraints.txt"
