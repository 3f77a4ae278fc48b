"""Option checks shared by commands: a bad value is a usage message, never a traceback."""

from __future__ import annotations

import typer

from tweet_triage.model.operating_point import Policy


def policy_option(value: str) -> str:
    """``--operating-point``: one of the policies of :mod:`tweet_triage.model.operating_point`, normalised."""
    try:
        return str(Policy.parse(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
