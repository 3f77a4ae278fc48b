"""The broker's durable storage: a local S3-compatible object store (``alocals3``) under ``STATE_DIR/objects``.

Tansu's ``s3://`` engine keeps every record batch, watermark and consumer-group offset as objects and coordinates
with conditional PUTs: ``If-None-Match: *`` to create and ``If-Match: ETAG`` to replace (compare-and-swap). Of the
local S3 servers on the registries, alocals3 is the one that answers both with 412 when the condition fails (measured;
see docs/local-services.md). It checks the condition and then writes, in a thread pool, so two racing writes could
both pass the check: this launcher therefore lets one write at a time through (reads stay concurrent). Objects are
written atomically (temporary file + rename, then an SQLite row), so a SIGKILL of either process loses nothing that
was acknowledged.

Listing is ours: Tansu lists a partition's record objects on every fetch (``prefix=.../records/``, paged with
continuation tokens), and alocals3 (0.3.0) gets both halves wrong — it loads every row under the prefix for each page
(its loop stops at ``max-keys`` only after fetching them all), so a fetch cost grew with the partition's history, and
its continuation token is the first key of the *next* page while the next page starts *after* the token, so the first
object of every page but the first was never listed: past 1,000 record batches in a partition, a consumer could skip a
batch. :class:`BoundedListing` answers with an indexed range query and ``LIMIT``, and no key is lost between pages.

Run as ``python -m tweet_triage.app.stack.object_store --host H --port P --root DIR --bucket B --api-prefix /s3``
(what ``triage stack up`` does); ``GET /healthz`` answers 200 once the bucket exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, cast

import uvicorn
from alocals3.api.deps import get_storage
from alocals3.app import create_app
from alocals3.db import ObjectModel
from alocals3.storage.local import LocalStorageBackend
from fastapi import HTTPException
from sqlalchemy import select

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


class BoundedListing(LocalStorageBackend):  # type: ignore[misc]  # alocals3 ships no type information
    """alocals3's storage, with ``list-type=2`` pages (without a delimiter) read ``max_keys`` rows at a time and
    continued after the last key they hold."""

    def list_objects_v2(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = 1000,
        continuation_token: str | None = None,
    ) -> dict[str, Any]:
        if delimiter or max_keys < 1:  # grouping by delimiter, and the error for max_keys, stay alocals3's own
            return cast(
                dict[str, Any], super().list_objects_v2(bucket, prefix, delimiter, max_keys, continuation_token)
            )
        with self.session_factory() as session:
            bucket_row = self._get_bucket_or_404(session, bucket)
            query = select(ObjectModel).where(ObjectModel.bucket_id == bucket_row.id)
            if prefix:  # a key range the (bucket_id, key) index answers, where LIKE 'prefix%' would scan
                query = query.where(ObjectModel.key >= prefix, ObjectModel.key < prefix + _AFTER_EVERY_CHARACTER)
            if continuation_token:
                query = query.where(ObjectModel.key > continuation_token)
            rows = session.scalars(query.order_by(ObjectModel.key.asc()).limit(max_keys + 1)).all()
            page, more = rows[:max_keys], len(rows) > max_keys
            return {
                "bucket": bucket_row.name,
                "prefix": prefix,
                "delimiter": delimiter,
                "max_keys": max_keys,
                "key_count": len(page),
                "is_truncated": more,
                "next_continuation_token": page[-1].key if more else None,  # the next page starts after it
                "contents": [self._to_object_info(bucket_row.name, row) for row in page],
                "common_prefixes": [],
            }


_AFTER_EVERY_CHARACTER: Final = "\U0010ffff"  # sorts after any character a key can hold


@lru_cache(maxsize=1)
def storage() -> BoundedListing:
    """The one storage backend of this process, configured like alocals3's own (:func:`configure`)."""
    base = get_storage()
    return BoundedListing(base.root, base.session_factory)


def ensure_bucket(name: str) -> None:
    try:
        storage().create_bucket(name)
    except HTTPException as exc:
        if exc.status_code != 409:  # 409: it exists already
            raise


def create_server_app() -> Asgi:
    """alocals3's app over :class:`BoundedListing`, one write at a time, without its request-logging middleware: a
    ``BaseHTTPMiddleware`` that streams every object through a memory channel and writes a log line per request
    (every 404 of a missing offset object at WARNING), for requests the broker makes thousands of times a minute."""
    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if not is_request_logging(m)]
    app.dependency_overrides[get_storage] = storage
    return OneWriteAtATime(app)


def is_request_logging(middleware: Any) -> bool:
    dispatch = getattr(middleware, "kwargs", {}).get("dispatch")
    return getattr(dispatch, "__name__", "") == "request_logging_middleware"


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
    uvicorn.run(create_server_app(), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
