"""`triage api`: serve the scoring API with uvicorn (one or more server processes)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from tweet_triage.cli.context import cli_context
from tweet_triage.settings import env_name

FACTORY = "tweet_triage.api.app:app_from_env"


def api(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default TRIAGE_API__HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default TRIAGE_API__PORT).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=16, help="Server processes (default 1).")] = None,
) -> None:
    """Serve POST /v1/predict, /v1/explain, /v1/feedback, GET /v1/model, /healthz, /readyz, /metrics until stopped."""
    settings = cli_context(ctx).settings
    # Server processes build their own settings from the environment: hand the overrides down that way.
    for name, value in (("host", host), ("port", port), ("workers", workers)):
        if value is not None:
            os.environ[env_name(("api", name))] = str(value)
    api_settings = settings.api.model_copy(
        update={k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    )
    uvicorn.run(
        FACTORY,
        factory=True,
        host=api_settings.host,
        port=api_settings.port,
        workers=api_settings.workers,
        log_level=settings.log_level.lower(),
        server_header=False,
        timeout_graceful_shutdown=5,
    )
