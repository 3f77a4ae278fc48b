"""The broker's durable storage: a local S3-compatible object store (``alocals3``) under ``STATE_DIR/objects``.

Tansu's ``s3://`` engine keeps every record batch, watermark and consumer-group offset as objects and coordinates
with conditional PUTs: ``If-None-Match: *`` to create and ``If-Match: ETAG`` to replace (compare-and-swap). Of the
local S3 servers on the registries, alocals3 is the one that answers both with 412 when the condition fails (measured;
see docs/local-services.md). It checks the condition and then writes, in a thread pool, so two racing writes could
both pass the check: this launcher therefore lets one write at a time through (reads stay concurrent). Objects are
written atomically (temporary file + rename, then an SQLite row), so a SIGKILL of either process loses nothing that
was acknowledged.

Run as ``python -m tweet_triage.app.stack.object_store --host H --port P --root DIR --bucket B --api-prefix /s3``
(what ``triage stack up`` does); ``GET /healthz`` answers 200 once the bucket exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Final

import uvicorn
from alocals3.api.deps import get_storage
from alocals3.app import create_app
from fastapi import HTTPException

_WRITES: Final = frozenset({"PUT", "POST", "DELETE"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class OneWriteAtATime:
    """ASGI middleware: requests that change objects run one after the other, so a conditional PUT's check and its
    write cannot interleave with another write."""

    def __init__(self, app: Asgi) -> None:
        self._app = app
        self._lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") not in _WRITES:
            await self._app(scope, receive, send)
            return
        if self._lock is None:
            self._lock = asyncio.Lock()  # created inside the server's event loop
        async with self._lock:
            await self._app(scope, receive, send)


def configure(root: Path, api_prefix: str) -> None:
    """Point alocals3 at ``root`` (its blobs and its SQLite index) and serve the S3 API under ``api_prefix``, through
    its own environment variables (read when it first needs them)."""
    root.mkdir(parents=True, exist_ok=True)
    os.environ["ALOCALS3_STORAGE_ROOT"] = str(root)
    os.environ["ALOCALS3_DATABASE_URL"] = f"sqlite:///{root / 'index.sqlite'}"
    os.environ["ALOCALS3_API_PREFIX"] = api_prefix
    os.environ.setdefault("ALOCALS3_LOG_LEVEL", "WARNING")


def ensure_bucket(name: str) -> None:
    try:
        get_storage().create_bucket(name)
    except HTTPException as exc:
        if exc.status_code != 409:  # 409: it exists already
            raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local broker's object store (alocals3, one write at a time).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--api-prefix", default="/s3")
    args = parser.parse_args(argv)
    configure(args.root.resolve(), args.api_prefix)

    ensure_bucket(args.bucket)
    app: Any = OneWriteAtATime(create_app())
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
