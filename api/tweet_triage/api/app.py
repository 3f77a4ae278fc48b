"""The FastAPI app: assembled from the routes (:mod:`.routes`), error bodies, metrics and the model-refresh loop.

Every :class:`~tweet_triage.errors.TriageError` a request raises is answered by :func:`problem`, with the status of
its kind (:data:`STATUS_BY_KIND`): usage 400, not found 404, unavailable 503 with ``Retry-After``, failed 500.
Invalid requests are 422 (FastAPI's validation and the configured limits).

:func:`create_app` takes an :class:`ApiRuntime` (model source, feedback publisher, keys, limits), so tests build the
same app around fakes; :func:`app_from_env` is the factory the server processes call (``triage api``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import anyio
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from tweet_triage.api.auth import ApiKeys
from tweet_triage.api.batching import BatchingScorer
from tweet_triage.api.feedback_publisher import KafkaFeedbackPublisher
from tweet_triage.api.limits import BodyLimitMiddleware
from tweet_triage.api.metrics import ApiMetrics, MetricsMiddleware
from tweet_triage.api.model_info import RegistryModelInfo
from tweet_triage.api.routes import router
from tweet_triage.api.runtime import ApiRuntime, Limits
from tweet_triage.errors import ErrorKind, TriageError
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.model.watcher import ModelWatcher, Swap
from tweet_triage.monitoring.alerts.unapproved import UnapprovedMoveAlerts
from tweet_triage.settings import Settings, load_settings
from tweet_triage.store.review_source import StoreReviewSource

log = logging.getLogger(__name__)

API_VERSION = "1"
DESCRIPTION = """Disaster-tweet triage: label, calibrated confidence and per-class probabilities for tweets, word-level
explanations, and a feedback endpoint for people's corrections. Every answer names the model version that made it; the
production model is swapped in without a restart, and only once the approval log approves it. Write endpoints need an
API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`); read endpoints too where the server protects reads (the
azure profile does), and approvers' names are shown only to callers with a key."""


def runtime_from_settings(settings: Settings) -> ApiRuntime:
    metrics = ApiMetrics()

    def on_swap(swap: Swap) -> None:
        metrics.set_model(swap.current)
        if swap.previous is not None:
            metrics.model_swaps.inc()

    registry = Registry(settings)
    watcher = ModelWatcher(
        registry,
        alias=PRODUCTION,
        threads=settings.api.threads,
        on_swap=on_swap,
        on_unapproved=UnapprovedMoveAlerts(settings, reporter="scoring API"),
    )
    api = settings.api
    return ApiRuntime(
        model=watcher,
        publisher=KafkaFeedbackPublisher(settings),
        model_info=RegistryModelInfo(registry, alias=PRODUCTION),
        model_name=registry.name,
        keys=ApiKeys.from_setting(api.keys),
        protect_reads=settings.api_reads_need_key,
        limits=Limits(max_batch=api.max_batch, max_text_chars=api.max_text_chars, max_body_bytes=api.max_body_bytes),
        batch_window_s=api.batch_window_ms / 1e3,
        batch_max_tweets=api.batch_max_tweets,
        refresh=watcher.try_refresh,
        poll_s=api.model_poll_s,
        metrics=metrics,
        review=StoreReviewSource(settings),
    )


def app_from_env() -> FastAPI:
    """The factory each server process calls: settings from TRIAGE_* variables (and .env)."""
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("azure", "aiokafka", "mlflow", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return create_app(runtime_from_settings(settings))


# ---- the app ------------------------------------------------------------------------------------------------------


def create_app(runtime: ApiRuntime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.publisher.start()
        poller = asyncio.create_task(_poll_model(runtime)) if runtime.refresh is not None else None
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await runtime.publisher.stop()
            await app.state.batcher.aclose()

    app = FastAPI(
        title="tweet-triage scoring API",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.limiter = anyio.CapacityLimiter(runtime.scoring_slots)
    app.state.batcher = BatchingScorer(
        limiter=app.state.limiter,
        window_s=runtime.batch_window_s,
        max_tweets=runtime.batch_max_tweets,
        on_batch=runtime.metrics.observe_batch,
    )
    app.include_router(router)
    _install_error_handlers(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _apply_limits(schema, runtime.limits)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.limits.max_body_bytes)  # outermost: before parsing
    return app


def _apply_limits(schema: dict[str, Any], limits: Limits) -> None:
    """Write the configured limits into the OpenAPI document (the models carry only the hard caps)."""
    schemas = schema.get("components", {}).get("schemas", {})
    with contextlib.suppress(KeyError):
        schemas["PredictRequest"]["properties"]["tweets"]["maxItems"] = limits.max_batch
    for name in ("TweetIn", "ExplainRequest"):
        with contextlib.suppress(KeyError):
            schemas[name]["properties"]["text"]["maxLength"] = limits.max_text_chars


async def _poll_model(runtime: ApiRuntime) -> None:
    assert runtime.refresh is not None
    while True:
        await asyncio.to_thread(runtime.refresh)
        await asyncio.sleep(runtime.poll_s)  # the alias is polled on a timer, like the stream worker does


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(error) for error in exc.errors()]
        detail = errors[0] if len(errors) == 1 else f"{len(errors)} problems: " + "; ".join(errors[:5])
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content=jsonable_encoder({"detail": detail, "errors": errors}),
        )

    @app.exception_handler(TriageError)
    async def triage_error(request: Request, exc: TriageError) -> JSONResponse:
        return problem(request, exc)


STATUS_BY_KIND: Final[Mapping[ErrorKind, int]] = {
    ErrorKind.USAGE: status.HTTP_400_BAD_REQUEST,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorKind.FAILED: status.HTTP_500_INTERNAL_SERVER_ERROR,
}
DEFAULT_RETRY_AFTER_S: Final = 5  # when an unavailable service gave no hint of its own


def problem(request: Request, exc: TriageError) -> JSONResponse:
    """The answer to a request that raised ``exc``: the status of its kind, its message as ``detail`` — except for
    ``failed``, whose message stays in the log under a reference — and ``Retry-After`` when the service is away."""
    code = STATUS_BY_KIND[exc.kind]
    where = f"{request.method} {request.url.path}"
    headers: dict[str, str] = {}
    if exc.kind is ErrorKind.FAILED:
        reference = uuid.uuid4().hex[:12]
        log.error("%s failed (reference %s): %s", where, reference, exc, exc_info=exc)
        detail = f"the server could not complete the request (reference {reference}); the cause is in its log"
    else:
        log.warning("%s answered %d: %s", where, code, exc)
        detail = str(exc)
    if exc.kind is ErrorKind.UNAVAILABLE:
        wait = DEFAULT_RETRY_AFTER_S if exc.retry_after is None else max(1, math.ceil(exc.retry_after))
        headers["Retry-After"] = str(wait)
    return JSONResponse(status_code=code, content={"detail": detail, "errors": []}, headers=headers)


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
    if tuple(error.get("loc", ())) == ("body",):
        if error.get("type") == "missing":
            return "the request has no body: send a JSON object (Content-Type: application/json)"
        return "the body must be a JSON object sent with Content-Type: application/json (see /docs for examples)"
    if error.get("type") == "missing":
        return f"{where}: required field is missing"
    if error.get("type") == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {message}"
