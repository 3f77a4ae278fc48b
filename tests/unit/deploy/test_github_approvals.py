"""CD records the reviewer who approved `production`, read from the run's deployment reviews (a recorded answer of
GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals, shaped as GitHub documents it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deploy.test_workflows import load
from tweet_triage.deploy.github import approver_of, approvers, parse_reviews
from tweet_triage.errors import UsageError

RECORDED = Path(__file__).parent / "fixtures" / "run_approvals.json"
TRIAGE = str(Path(sys.executable).with_name("triage"))


def test_the_production_reviewer_is_the_approver_not_other_environments_or_rejections() -> None:
    payload = json.loads(RECORDED.read_text())
    assert [r.state for r in parse_reviews(payload)] == ["approved", "rejected", "approved"]
    assert approvers(payload, "production") == ["ana-reviewer"]
    assert approvers(payload, "staging") == ["staging-bot"]
    assert approver_of(RECORDED, "production") == "github:ana-reviewer"


def test_several_reviewers_are_all_recorded_once() -> None:
    payload = json.loads(RECORDED.read_text())
    payload.append({**payload[2], "user": {"login": "cy"}})
    payload.append(payload[2])
    assert approvers(payload, "production") == ["ana-reviewer", "cy"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "nobody approved the 'production' environment"),
        ({"message": "Not Found"}, "must be a JSON list of reviews"),
        ([{"state": "approved", "environments": []}], "review 0 lacks 'user'"),
        ([{"state": "approved", "environments": [{"name": "production"}], "user": {"login": "a b"}}], "not a GitHub"),
    ],
)
def test_an_answer_without_an_approval_is_refused(payload: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        approvers(payload, "production")


def test_the_command_prints_the_approver_and_refuses_clearly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    ok = subprocess.run(
        [TRIAGE, "azure", "approver", str(RECORDED)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert ok.returncode == 0 and ok.stdout.strip() == "github:ana-reviewer", ok.stderr
    piped = subprocess.run(
        [TRIAGE, "azure", "approver", "-", "--environment", "staging"],
        input=RECORDED.read_text(),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert piped.stdout.strip() == "github:staging-bot"
    (tmp_path / "none.json").write_text("[]")
    refused = subprocess.run(
        [TRIAGE, "azure", "approver", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "nobody approved" in refused.stderr and "Traceback" not in refused.stderr


def test_cd_records_the_reviewer_from_the_runs_approvals_never_the_pusher() -> None:
    cd = load("cd.yml")
    assert cd["permissions"]["actions"] == "read"
    production = cd["jobs"]["production"]
    steps = production["steps"]
    scripts = [str(step.get("run", "")) for step in steps]
    [who] = [i for i, s in enumerate(scripts) if "/actions/runs/${GITHUB_RUN_ID}/approvals" in s]
    assert "triage azure approver" in scripts[who] and "APPROVER=" in scripts[who]
    uses_approver = [i for i, s in enumerate(scripts) if '--approver "$APPROVER"' in s]
    assert uses_approver and all(i > who for i in uses_approver), "the approver is known before it is recorded"
    assert any("triage model promote" in scripts[i] for i in uses_approver)
    assert any("triage azure promote-slot" in scripts[i] for i in uses_approver)
    text = json.dumps(cd)
    assert "github.actor" not in text and "GITHUB_ACTOR" not in text


def test_staging_only_mirrors_the_candidate() -> None:
    cd = load("cd.yml")
    script = "\n".join(str(step.get("run", "")) for step in cd["jobs"]["staging"]["steps"])
    assert "triage azure deploy --slot green --traffic 0 --mirror" in script
