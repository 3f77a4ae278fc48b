"""Request and response bodies of the API, with the examples shown in the OpenAPI documentation.

Static limits here are the hard caps (the tweet-event contract's text length, 1,024 tweets per request); the
configured, usually lower, limits (``TRIAGE_API__MAX_BATCH``, ``TRIAGE_API__MAX_TEXT_CHARS``) are checked by the
routes and written into the served OpenAPI document by :func:`tweet_triage.api.app.create_app`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tweet_triage.contracts.feedback import MAX_COMMENT_CHARS, MAX_NAME_CHARS
from tweet_triage.contracts.tweets import MAX_ID_CHARS, MAX_KEYWORD_CHARS, MAX_TEXT_CHARS, TweetId
from tweet_triage.store.records import PredictionRecord

HARD_MAX_BATCH = 1_024


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TweetIn(_Body):
    id: str | None = Field(None, min_length=1, max_length=MAX_ID_CHARS, description="Echoed back; optional.")
    text: NonBlank = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The tweet text.")
    keyword: str | None = Field(None, max_length=MAX_KEYWORD_CHARS, description="Disaster keyword, if known.")


class PredictRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tweets": [
                        {"id": "t1", "text": "Forest fire near La Ronge Sask. Canada"},
                        {"id": "t2", "text": "my new mixtape is fire", "keyword": "fire"},
                    ]
                }
            ]
        }
    )

    tweets: list[TweetIn] = Field(min_length=1, max_length=HARD_MAX_BATCH)


class PredictionOut(BaseModel):
    id: str | None
    label: str
    confidence: float = Field(ge=0, le=1, description="Probability of the predicted label (calibrated).")
    probabilities: dict[str, float]
    model_version: str
    threshold: float | None = Field(
        None,
        description="The model's operating point: the positive label when its probability is at least this "
        "(null: the most probable label).",
    )
    operating_point: str = Field(
        "argmax", description="The policy the threshold was chosen by (f2, f1, recall>=R, argmax)."
    )
    language: str | None = Field(None, description="Identified language (ISO 639-1); null when the text is too short.")
    out_of_scope: bool = Field(
        False,
        description="True when the tweet is surely in a language the model was not trained on: scored, but the "
        "label means little.",
    )


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    model: ModelRef
    predictions: list[PredictionOut]
    latency_ms: float = Field(description="Server-side time for this request, scoring included.")


class ExplainRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Forest fire near La Ronge Sask. Canada", "keyword": "fire"}]}
    )

    text: NonBlank = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    keyword: str | None = Field(None, max_length=MAX_KEYWORD_CHARS)


class WordWeightOut(BaseModel):
    word: str
    start: int = Field(description="Character offset of the word in the text.")
    end: int
    weight: float = Field(
        description="Drop of the predicted label's probability when the word is removed (> 0: supports the label)."
    )


class ExplainResponse(BaseModel):
    label: str
    confidence: float
    probabilities: dict[str, float]
    model_version: str
    method: str = Field(description="How the weights were computed (word-occlusion).")
    words: list[WordWeightOut]
    latency_ms: float


class FeedbackRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tweet_id": "1234567890",
                    "label": "disaster",
                    "annotator": "Ana (relief desk)",
                    "model_version": "3",
                    "comment": "people trapped, confirmed by phone",
                }
            ]
        }
    )

    tweet_id: TweetId = Field(min_length=1, max_length=MAX_ID_CHARS, description="The tweet's id (as stored).")
    label: NonBlank = Field(min_length=1, max_length=MAX_NAME_CHARS, description="The right label.")
    annotator: NonBlank = Field(min_length=1, max_length=MAX_NAME_CHARS, description="Who gave the label.")
    model_version: str | None = Field(None, max_length=MAX_NAME_CHARS, description="Version whose label was seen.")
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


class FeedbackAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    tweet_id: str
    topic: str


class ApprovalOut(BaseModel):
    action: str
    version: str
    replaced_version: str | None
    approver: str | None = Field(description="Who approved; only shown to callers with an API key.")
    reason: str
    gate_passed: bool
    override_reason: str | None
    at: str


class ModelInfoOut(BaseModel):
    name: str
    version: str
    alias: str
    labels: list[str]
    metrics: dict[str, float] = Field(description="Test-split metrics recorded at registration (f1, ece).")
    tags: dict[str, str] = Field(description="Lineage: dataset version, git commit, gate result, ...")
    approvals: list[ApprovalOut] = Field(description="Approval records about this version, oldest first.")


class Health(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = Field(None, description="Why the server is not ready, when it is not.")


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, in words.")
    errors: list[str] = Field(default_factory=list, description="One line per invalid field, when there are several.")


MAX_REVIEW_ITEMS = 200


class ReviewResponse(BaseModel):
    """The review queue: stored predictions a person should label next, least certain first."""

    items: list[PredictionRecord] = Field(
        description="Least certain first (closest to a coin toss), newest first among equals; "
        "tweets somebody already labelled and further copies of a listed story are left out."
    )
    window: int = Field(description="How many of the newest predictions the queue was chosen from.")
