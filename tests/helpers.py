"""Small helpers shared by tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from tweet_triage.contracts.tweets import TweetEvent
from tweet_triage.store.records import PredictionRecord

T = TypeVar("T")


def wait_until(probe: Callable[[], T], *, timeout_s: float, what: str, interval_s: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout_s``.

    This waits for an observable condition, never for a fixed time. Probes often open a client or start a request:
    every 0.2 s keeps them from competing with the processes under test for the two cores.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def prediction(
    tweet_id: str,
    *,
    scored_at: datetime,
    text: str = "flood water rising",
    label: str = "disaster",
    other: str = "not_disaster",
    model_name: str = "m",
    model_version: str = "1",
) -> PredictionRecord:
    """A stored prediction for ``tweet_id``: ``label`` at 0.9 over ``other``."""
    return PredictionRecord(
        id=tweet_id,
        label=label,
        confidence=0.9,
        probabilities={label: 0.9, other: 0.1},
        model_name=model_name,
        model_version=model_version,
        scored_at=scored_at,
        text=text,
    )


def scored(
    tweet: TweetEvent,
    *,
    scored_at: datetime,
    label: str = "disaster",
    confidence: float = 0.8,
    other: str = "not_disaster",
    model_name: str = "tweet-triage",
    model_version: str = "1",
) -> PredictionRecord:
    """``tweet`` as the worker stores it: ``label`` at ``confidence`` over ``other``."""
    return PredictionRecord.from_scoring(
        tweet,
        label=label,
        confidence=confidence,
        probabilities={label: confidence, other: round(1 - confidence, 6)},
        model_name=model_name,
        model_version=model_version,
        scored_at=scored_at,
    )
