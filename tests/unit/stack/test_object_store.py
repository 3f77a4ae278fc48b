"""The object store lets one write through at a time (a conditional PUT's check and write cannot interleave)."""

from __future__ import annotations

import asyncio
from typing import Any

from alocals3.app import create_app

from tweet_triage.app.stack.object_store import OneWriteAtATime, create_server_app, is_request_logging


def test_writes_run_one_after_the_other_while_reads_overlap() -> None:
    inside = {"PUT": 0, "GET": 0}
    most = {"PUT": 0, "GET": 0}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        method = scope["method"]
        inside[method] += 1
        most[method] = max(most[method], inside[method])
        await asyncio.sleep(0.01)  # the app's own work, so overlapping requests would show
        inside[method] -= 1

    wrapped = OneWriteAtATime(app)

    async def main() -> None:
        requests = [wrapped({"type": "http", "method": m}, None, None) for m in ["PUT", "GET"] * 5]  # type: ignore[arg-type]
        await asyncio.gather(*requests)

    asyncio.run(main())
    assert most == {"PUT": 1, "GET": 5}


def test_the_server_drops_alocals3s_per_request_logging_middleware() -> None:
    """alocals3 adds a BaseHTTPMiddleware that logs every request; the broker makes thousands a minute. If alocals3
    renames it, the filter must not silently keep it."""
    assert any(is_request_logging(m) for m in create_app().user_middleware)
    served = create_server_app()
    assert isinstance(served, OneWriteAtATime)
    assert not any(is_request_logging(m) for m in served._app.user_middleware)  # type: ignore[attr-defined]
