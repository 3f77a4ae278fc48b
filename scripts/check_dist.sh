#!/usr/bin/env bash
# Check the built distributions: one import name, and the wheel installs into a clean venv with a working CLI.
set -euo pipefail
dist=${1:-dist}
python=${PYTHON:-python3.11}
root=$(cd "$(dirname "$0")/.." && pwd)

wheel=$(ls "$dist"/tweet_triage-*.whl)
sdist=$(ls "$dist"/tweet_triage-*.tar.gz)
echo "wheel: $wheel"
echo "sdist: $sdist"

"$python" - "$wheel" "$sdist" <<'PY'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1:3]
names = zipfile.ZipFile(wheel).namelist()
tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
assert tops == {"tweet_triage"}, f"unexpected top-level entries in the wheel: {sorted(tops)}"
assert "tweet_triage/__init__.py" not in names, "tweet_triage must stay a namespace package"
for needed in ("tweet_triage/app/cli/main.py", "tweet_triage/app/stack/node/package-lock.json"):
    assert needed in names, f"{needed} missing from the wheel"
members = tarfile.open(sdist).getnames()
assert not any("node_modules" in m or m.endswith(".onnx") for m in members), "the sdist carries installed or binary files"
print(f"wheel OK: {len(names)} files under tweet_triage/; sdist OK: {len(members)} members")
PY

venv=$(mktemp -d)/venv
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet -c "$root/constraints.txt" "$wheel"
(cd "$(mktemp -d)" && "$venv/bin/triage" --help >/dev/null && "$venv/bin/triage" config show >/dev/null)
(cd "$(mktemp -d)" && "$venv/bin/python" -c "import importlib.util as u; bad=[m for m in ('stream','training','monitoring','deploy','core','api','dashboard','app','tests') if u.find_spec(m)]; assert not bad, bad")
echo "clean-venv install OK: triage --help and triage config show work"

# The sdist builds and installs the same files: into the same clean venv, over the wheel, without resolving the
# dependencies a second time (they are the wheel's, checked above).
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$sdist"
(cd "$(mktemp -d)" && "$venv/bin/triage" --help >/dev/null && "$venv/bin/triage" config show >/dev/null)
echo "sdist install OK (built from source, installed over the wheel's dependencies)"
