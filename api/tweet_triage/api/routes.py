"""The routes and their dependencies (typed aliases): thin edges over :mod:`.service`."""

from __future__ import annotations

import time
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tweet_triage.api import service
from tweet_triage.api.auth import Verdict
from tweet_triage.api.batching import BatchingScorer
from tweet_triage.api.runtime import ApiRuntime
from tweet_triage.api.schemas import (
    MAX_REVIEW_ITEMS,
    ExplainRequest,
    ExplainResponse,
    FeedbackAccepted,
    FeedbackRequest,
    Health,
    ModelInfoOut,
    ModelRef,
    PredictRequest,
    PredictResponse,
    Problem,
    ReviewResponse,
)
from tweet_triage.clock import utc_now
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.settings import env_name

# ---- dependencies -------------------------------------------------------------------------------------------------
# They only read what the process holds, so they are ``async``: FastAPI runs a plain ``def`` dependency in its thread
# pool, a thread hop per dependency per request.


async def _runtime(request: Request) -> ApiRuntime:
    runtime: ApiRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ApiRuntime, Depends(_runtime)]


async def _scorer(runtime: RuntimeDep) -> service.Scorer:
    if not runtime.model.ready:
        raise service.ModelNotLoaded(
            "no production model is loaded yet: train one and promote it (`triage train`, `triage model promote`); "
            "this server picks it up without a restart"
        )
    return runtime.model.current


ScorerDep = Annotated[service.Scorer, Depends(_scorer)]
_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


async def _credentials(
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Verdict:
    return runtime.keys.check(bearer=bearer.credentials if bearer else None, header_key=api_key)


CredentialsDep = Annotated[Verdict, Depends(_credentials)]


async def _writer(verdict: CredentialsDep) -> None:
    _require(verdict, "write endpoints")


async def _reader(runtime: RuntimeDep, verdict: CredentialsDep) -> bool:
    """Whether the caller is authenticated; where reads are protected, only authenticated callers get through."""
    if verdict is Verdict.OK:
        return True
    if runtime.protect_reads:
        _require(verdict, "read endpoints")
    return False


def _require(verdict: Verdict, what: str) -> None:
    if verdict is Verdict.OK:
        return
    if verdict is Verdict.DISABLED:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{what} are switched off on this server: no API keys are configured ({env_name(('api', 'keys'))})",
        )
    message = (
        "this endpoint needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        if verdict is Verdict.MISSING
        else "the API key is not valid"
    )
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


WriterDep = Annotated[None, Depends(_writer)]
ReaderDep = Annotated[bool, Depends(_reader)]


def _unavailable(description: str) -> dict[str, Any]:
    retry_after = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
    return {"model": Problem, "description": description, "headers": {"Retry-After": retry_after}}


_FAILED: dict[str, Any] = {"model": Problem, "description": "The server failed; `detail` gives a log reference."}
_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "The request body is too large."},
    422: {"model": Problem, "description": "The request is invalid; `detail` says what was wrong."},
    500: _FAILED,
}
_MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"model": Problem, "description": "No or a wrong API key (only where reads are protected)."},
    503: _unavailable("No production model is loaded yet, or the model registry cannot be read; try again."),
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"model": Problem, "description": "No or a wrong API key."},
    403: {"model": Problem, "description": "Writes are switched off (no API keys configured)."},
    503: _unavailable("The feedback topic is unreachable; try again."),
}


# ---- routes -------------------------------------------------------------------------------------------------------

router = APIRouter()


def _limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter = request.app.state.limiter
    return limiter


@router.post("/v1/predict", response_model=PredictResponse, responses=_MODEL_ERRORS, tags=["scoring"])
async def predict(
    body: PredictRequest, _: ReaderDep, scorer: ScorerDep, runtime: RuntimeDep, request: Request
) -> PredictResponse:
    """Label, confidence and per-class probabilities for one or many tweets (at most `max_batch`)."""
    limits = runtime.limits
    _check(len(body.tweets) <= limits.max_batch, f"at most {limits.max_batch} tweets per request")
    for i, tweet in enumerate(body.tweets):
        _check(
            len(tweet.text) <= limits.max_text_chars,
            f"tweets.{i}.text has {len(tweet.text)} characters, more than {limits.max_text_chars}",
        )
    started = time.perf_counter()
    batcher: BatchingScorer = request.app.state.batcher
    results = await batcher.predict(scorer, [t.text for t in body.tweets], [t.keyword for t in body.tweets])
    runtime.metrics.tweets.inc(len(body.tweets))
    model = ModelRef(name=runtime.model_name, version=scorer.version)
    return service.respond(body.tweets, results, model=model, started=started)


@router.post("/v1/explain", response_model=ExplainResponse, responses=_MODEL_ERRORS, tags=["scoring"])
async def explain(
    body: ExplainRequest, _: ReaderDep, scorer: ScorerDep, runtime: RuntimeDep, request: Request
) -> ExplainResponse:
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


@router.get(
    "/v1/review",
    response_model=ReviewResponse,
    responses={
        401: _WRITE_ERRORS[401],
        403: _WRITE_ERRORS[403],
        422: _ERRORS[422],
        500: _FAILED,
        503: _unavailable("The prediction store cannot be read; try again."),
    },
    tags=["feedback"],
)
async def review(
    runtime: RuntimeDep,
    _: WriterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_REVIEW_ITEMS, description="How many tweets to list.")] = 20,
) -> ReviewResponse:
    """The tweets a person should label next: least certain first, unlabelled, one per story. Needs an API key."""
    source = runtime.review
    items = await anyio.to_thread.run_sync(lambda: source.queue(limit))
    return ReviewResponse(items=items, window=source.window)


@router.get(
    "/v1/model",
    response_model=ModelInfoOut,
    responses={
        401: _MODEL_ERRORS[401],
        404: {"model": Problem, "description": "The registry has no record of the serving version."},
        500: _FAILED,
        503: _MODEL_ERRORS[503],
    },
    tags=["model"],
)
async def model(authenticated: ReaderDep, scorer: ScorerDep, runtime: RuntimeDep) -> ModelInfoOut:
    """The serving version: metrics, lineage and approval records (approvers' names only with an API key)."""
    info = await anyio.to_thread.run_sync(lambda: runtime.model_info(scorer.version, list(scorer.labels)))
    if authenticated:
        return info
    return info.model_copy(update={"approvals": [a.model_copy(update={"approver": None}) for a in info.approvals]})


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """The process is up (it may still be loading a model)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}}, tags=["operations"])
async def readyz(runtime: RuntimeDep, response: Response) -> Health:
    """Ready to score: an approved production model is loaded, and production has not moved without an approval."""
    if not runtime.model.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="loading")
    version = runtime.model.current.version
    problem = runtime.model.problem
    if problem is not None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unapproved", model_version=version, detail=problem)
    return Health(status="ready", model_version=version)


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")


def _check(condition: bool, detail: str) -> None:
    if not condition:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
