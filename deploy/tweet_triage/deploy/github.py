"""Who approved a GitHub environment: the reviewers, not whoever pushed the commit.

CD reads the workflow run's deployment reviews (``GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals``,
"List approvals for a workflow run") and records the reviewers who approved the ``production`` environment as the
approver of the promotion. The answer is a list of reviews::

    [{"environments": [{"id": 1, "name": "production", ...}], "state": "approved",
      "user": {"login": "ana", ...}, "comment": "Ship it"}]

``state`` is ``approved``, ``rejected`` or ``pending``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tweet_triage.errors import UsageError

_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")  # GitHub's user names


@dataclass(frozen=True)
class Review:
    login: str
    state: str
    environments: tuple[str, ...]
    comment: str


def parse_reviews(payload: Any) -> list[Review]:
    """The reviews of a run; UsageError naming what does not match the documented shape."""
    if not isinstance(payload, list):
        raise UsageError("the run's approvals must be a JSON list of reviews (GET .../actions/runs/RUN_ID/approvals)")
    reviews = []
    for index, item in enumerate(payload):
        try:
            login = str(item["user"]["login"])
            environments = tuple(str(e["name"]) for e in item["environments"])
            state = str(item["state"])
        except (KeyError, TypeError) as exc:
            raise UsageError(f"review {index} lacks {exc} (expected user.login, environments[].name, state)") from None
        if not _LOGIN.match(login):
            raise UsageError(f"review {index}: {login!r} is not a GitHub user name")
        reviews.append(Review(login, state, environments, str(item.get("comment") or "")))
    return reviews


def approvers(payload: Any, environment: str) -> list[str]:
    """Everyone who approved ``environment`` in this run, in review order, each once."""
    found: list[str] = []
    for review in parse_reviews(payload):
        if review.state == "approved" and environment in review.environments and review.login not in found:
            found.append(review.login)
    if not found:
        raise UsageError(
            f"nobody approved the {environment!r} environment in this run; a promotion needs a reviewer's approval "
            f"(Settings > Environments > {environment} > Required reviewers)"
        )
    return found


def approver_of(source: Path | str, environment: str) -> str:
    """The approver to record: ``github:LOGIN`` (several joined by ``, ``), from a saved API answer or ``-`` (stdin)."""
    try:
        text = sys.stdin.read() if str(source) == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{source}: cannot read ({exc.strerror})") from None
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{source}: not JSON ({exc})") from None
    return ", ".join(f"github:{login}" for login in approvers(payload, environment))
