"""The FastAPI edge: routes, dependencies, error bodies, metrics and the model-refresh loop.

:func:`create_app` takes an :class:`ApiRuntime` (model source, feedback publisher, keys, limits), so tests build the
same app around fakes; :func:`app_from_env` is the factory the server processes call (``triage api``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tweet_triage.api import service
from tweet_triage.api.auth import ApiKeys, Verdict
from tweet_triage.api.feedback import FeedbackPublisher, FeedbackUnavailable, KafkaFeedbackPublisher
from tweet_triage.api.limits import BodyLimitMiddleware
from tweet_triage.api.metrics import ApiMetrics
from tweet_triage.api.model_info import RegistryModelInfo
from tweet_triage.api.schemas import (
    ExplainRequest,
    ExplainResponse,
    FeedbackAccepted,
    FeedbackRequest,
    Health,
    ModelInfoOut,
    PredictRequest,
    PredictResponse,
    Problem,
)
from tweet_triage.errors import TriageError
from tweet_triage.settings import Settings, env_name, load_settings
from tweet_triage.stream.feedback import FeedbackEvent
from tweet_triage.stream.timestamps import utc_now

log = logging.getLogger(__name__)

API_VERSION = "1"
DESCRIPTION = """Disaster-tweet triage: label, calibrated confidence and per-class probabilities for tweets, word-level
explanations, and a feedback endpoint for people's corrections. Every answer names the model version that made it; the
production model is swapped in without a restart. Write endpoints need an API key (`Authorization: Bearer KEY` or
`X-API-Key: KEY`)."""


@dataclass(frozen=True)
class Limits:
    max_batch: int = 64
    max_text_chars: int = 1_000
    max_body_bytes: int = 256 * 1024


@dataclass
class ApiRuntime:
    model: service.ModelSource
    publisher: FeedbackPublisher
    model_info: Callable[[str, list[str]], ModelInfoOut]
    model_name: str
    keys: ApiKeys
    limits: Limits = Limits()
    refresh: Callable[[], object] | None = None  # called in a thread every poll interval (hot swap)
    poll_s: float = 5.0
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    scoring_slots: int = 1  # concurrent model calls per process; ONNX Runtime already uses every core


def runtime_from_settings(settings: Settings) -> ApiRuntime:
    from tweet_triage.model.registry import PRODUCTION, Registry
    from tweet_triage.model.watcher import ModelWatcher, Swap

    metrics = ApiMetrics()

    def on_swap(swap: Swap) -> None:
        metrics.set_model(swap.current)
        if swap.previous is not None:
            metrics.model_swaps.inc()

    registry = Registry(settings)
    watcher = ModelWatcher(registry, alias=PRODUCTION, threads=settings.api.threads, on_swap=on_swap)
    api = settings.api
    return ApiRuntime(
        model=watcher,
        publisher=KafkaFeedbackPublisher(settings),
        model_info=RegistryModelInfo(registry, alias=PRODUCTION),
        model_name=registry.name,
        keys=ApiKeys.from_setting(api.keys),
        limits=Limits(max_batch=api.max_batch, max_text_chars=api.max_text_chars, max_body_bytes=api.max_body_bytes),
        refresh=watcher.try_refresh,
        poll_s=api.model_poll_s,
        metrics=metrics,
    )


def app_from_env() -> FastAPI:
    """The factory each server process calls: settings from TRIAGE_* variables (and .env)."""
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("azure", "aiokafka", "mlflow", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return create_app(runtime_from_settings(settings))


# ---- dependencies -------------------------------------------------------------------------------------------------


def _runtime(request: Request) -> ApiRuntime:
    runtime: ApiRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ApiRuntime, Depends(_runtime)]


def _scorer(runtime: RuntimeDep) -> service.Scorer:
    if not runtime.model.ready:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no production model is loaded yet: train one and promote it (`triage train`, `triage model promote`); "
            "this server picks it up without a restart",
        )
    return runtime.model.current


ScorerDep = Annotated[service.Scorer, Depends(_scorer)]
_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


def _writer(
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> None:
    verdict = runtime.keys.check(bearer=bearer.credentials if bearer else None, header_key=api_key)
    if verdict is Verdict.OK:
        return
    if verdict is Verdict.DISABLED:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "write endpoints are switched off on this server: no API keys are configured "
            f"({env_name(('api', 'keys'))})",
        )
    message = (
        "this endpoint needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        if verdict is Verdict.MISSING
        else "the API key is not valid"
    )
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


WriterDep = Annotated[None, Depends(_writer)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "The request body is too large."},
    422: {"model": Problem, "description": "The request is invalid; `detail` says what was wrong."},
}
_MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    503: {"model": Problem, "description": "No production model is loaded yet."},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"model": Problem, "description": "No or a wrong API key."},
    403: {"model": Problem, "description": "Writes are switched off (no API keys configured)."},
    503: {"model": Problem, "description": "The feedback topic is unreachable; try again."},
}


# ---- routes -------------------------------------------------------------------------------------------------------

router = APIRouter()


def _limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter = request.app.state.limiter
    return limiter


@router.post("/v1/predict", response_model=PredictResponse, responses=_MODEL_ERRORS, tags=["scoring"])
async def predict(body: PredictRequest, scorer: ScorerDep, runtime: RuntimeDep, request: Request) -> PredictResponse:
    """Label, confidence and per-class probabilities for one or many tweets (at most `max_batch`)."""
    limits = runtime.limits
    _check(len(body.tweets) <= limits.max_batch, f"at most {limits.max_batch} tweets per request")
    for i, tweet in enumerate(body.tweets):
        _check(
            len(tweet.text) <= limits.max_text_chars,
            f"tweets.{i}.text has {len(tweet.text)} characters, more than {limits.max_text_chars}",
        )
    result = await anyio.to_thread.run_sync(
        lambda: service.predict(scorer, body.tweets, model_name=runtime.model_name), limiter=_limiter(request)
    )
    runtime.metrics.tweets.inc(len(body.tweets))
    return result


@router.post("/v1/explain", response_model=ExplainResponse, responses=_MODEL_ERRORS, tags=["scoring"])
async def explain(body: ExplainRequest, scorer: ScorerDep, runtime: RuntimeDep, request: Request) -> ExplainResponse:
    """Word-level attributions for one tweet: how much each word pushes towards the predicted label."""
    limit = runtime.limits.max_text_chars
    _check(len(body.text) <= limit, f"text has {len(body.text)} characters, more than {limit}")
    result = await anyio.to_thread.run_sync(lambda: service.explain(scorer, body), limiter=_limiter(request))
    runtime.metrics.explanations.inc()
    return result


@router.post(
    "/v1/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FeedbackAccepted,
    responses=_WRITE_ERRORS,
    tags=["feedback"],
)
async def feedback(body: FeedbackRequest, runtime: RuntimeDep, _: WriterDep) -> FeedbackAccepted:
    """A person's label for a tweet; published to the feedback topic for the accuracy monitor. Needs an API key."""
    if runtime.model.ready:
        labels = runtime.model.current.labels
        _check(body.label in labels, f"label must be one of {', '.join(labels)}")
    event = FeedbackEvent(
        tweet_id=body.tweet_id,
        label=body.label,
        annotator=body.annotator,
        labelled_at=utc_now(),
        comment=body.comment,
        model_version=body.model_version,
    )
    await runtime.publisher.publish(event)
    runtime.metrics.feedback.inc()
    return FeedbackAccepted(tweet_id=body.tweet_id, topic=runtime.publisher.topic)


@router.get("/v1/model", response_model=ModelInfoOut, responses={503: _MODEL_ERRORS[503]}, tags=["model"])
async def model(scorer: ScorerDep, runtime: RuntimeDep) -> ModelInfoOut:
    """The serving version: metrics, lineage and approval records."""
    return await anyio.to_thread.run_sync(lambda: runtime.model_info(scorer.version, list(scorer.labels)))


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """The process is up (it may still be loading a model)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}}, tags=["operations"])
async def readyz(runtime: RuntimeDep, response: Response) -> Health:
    """Ready to score: a production model is loaded."""
    if not runtime.model.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="loading")
    return Health(status="ready", model_version=runtime.model.current.version)


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")


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

    app = FastAPI(
        title="tweet-triage scoring API",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.limiter = anyio.CapacityLimiter(runtime.scoring_slots)
    app.include_router(router)
    _install_error_handlers(app)
    _install_metrics(app, runtime.metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _apply_limits(schema, runtime.limits)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.limits.max_body_bytes)  # outermost: before parsing
    return app


def _check(condition: bool, detail: str) -> None:
    if not condition:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


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

    @app.exception_handler(FeedbackUnavailable)
    async def feedback_down(request: Request, exc: FeedbackUnavailable) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, content={"detail": str(exc), "errors": []})

    @app.exception_handler(TriageError)
    async def triage_error(request: Request, exc: TriageError) -> JSONResponse:
        log.warning("request failed: %s", exc)
        return JSONResponse(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, content={"detail": str(exc), "errors": []})


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
    if error.get("type") == "missing":
        return f"{where}: required field is missing"
    if error.get("type") == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {message}"


def _install_metrics(app: FastAPI, metrics: ApiMetrics) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.observe(path, response.status_code, time.perf_counter() - started)
        return response
