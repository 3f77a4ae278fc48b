"""`triage dashboard`: run the relief dashboard (Streamlit) until stopped."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.errors import UsageError
from tweet_triage.settings import env_name

SCRIPT = Path(__file__).with_name("main.py")


def dashboard(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default TRIAGE_DASHBOARD__HOST).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default TRIAGE_DASHBOARD__PORT).")] = None,
) -> None:
    """The relief dashboard: live triaged tweets, counts, explanations, feedback and CSV checks."""
    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("the dashboard needs Streamlit: pip install 'tweet-triage[dashboard]'")
    settings = cli_context(ctx).settings.dashboard
    for name, value in (("host", host), ("port", port)):
        if value is not None:
            os.environ[env_name(("dashboard", name))] = str(value)
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SCRIPT),
        "--server.address",
        host or settings.host,
        "--server.port",
        str(port or settings.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--server.fileWatcherType",
        "none",
        "--server.maxUploadSize",
        "5",  # MB: CSV uploads
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process, so signals and pid files reach Streamlit
