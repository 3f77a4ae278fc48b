"""ScoringService with in-memory fakes: the batch logic without Faust, Kafka or Cosmos."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import numpy as np

from tweet_triage.model.predictor import Predictor, ScoredBatch
from tweet_triage.stream.dead_letters import DeadLetter
from tweet_triage.stream.exceptions import RejectedWrite, StoreRejected
from tweet_triage.stream.scored import ScoredEvent
from tweet_triage.stream.scoring import InboundMessage, ScoringService, Topics
from tweet_triage.stream.store.records import PredictionRecord

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FakePredictor:
    labels: ClassVar[list[str]] = ["disaster", "not_disaster"]

    def __init__(self, version: str) -> None:
        self.version = version
        self.calls: list[list[str]] = []

    def score(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> ScoredBatch:
        self.calls.append(list(texts))
        p = np.array([[0.9, 0.1] if "fire" in t else [0.2, 0.8] for t in texts], np.float32)
        return ScoredBatch(p, np.ones((len(texts), 4), np.float32))


class FakeWriter:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.records: list[PredictionRecord] = []
        self.refuse = refuse or set()

    async def write(self, records: Iterable[PredictionRecord]) -> None:
        batch = list(records)
        self.records += [r for r in batch if r.id not in self.refuse]
        refused = [RejectedWrite(item_id=r.id, status=413, message="too large") for r in batch if r.id in self.refuse]
        if refused:
            raise StoreRejected(refused)


class FakePublisher:
    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[bytes | None, bytes]]] = {"scored": [], "dlq": []}

    async def send_many(self, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        self.sent[topic] += list(messages)


def message(offset: int, value: bytes, key: bytes | None = None) -> InboundMessage:
    return InboundMessage("tweets", 1, offset, key, value, NOW)


def tweet(tweet_id: str, text: str) -> bytes:
    return json.dumps({"id": tweet_id, "text": text, "published_at": "2026-11-26T11:59:59Z"}).encode()


def service(predictor: Any, writer: FakeWriter, publisher: FakePublisher) -> ScoringService:
    async def inline(work: Any) -> Any:
        return work()

    return ScoringService(
        model_name="tweet-triage",
        predictor=lambda: cast(Predictor, predictor),
        writer=writer,
        publisher=publisher,
        topics=Topics(scored="scored", dlq="dlq"),
        run_blocking=inline,
        clock=lambda: NOW,
    )


def test_valid_tweets_are_stored_and_published_bad_ones_dead_lettered() -> None:
    writer, publisher, predictor = FakeWriter(), FakePublisher(), FakePredictor("7")
    outcome = asyncio.run(
        service(predictor, writer, publisher).handle(
            [
                message(0, tweet("1", "fire downtown"), b"1"),
                message(1, b"{broken"),
                message(2, tweet("2", "nice song"), b"2"),
            ]
        )
    )
    assert (outcome.received, outcome.scored, outcome.dead_lettered) == (3, 2, 1)
    assert [(r.id, r.label, r.model_version) for r in writer.records] == [
        ("1", "disaster", "7"),
        ("2", "not_disaster", "7"),
    ]
    scored = [ScoredEvent.from_json(v) for _, v in publisher.sent["scored"]]
    assert [s.id for s in scored] == ["1", "2"] and all(len(s.embedding) == 4 for s in scored)
    [(_, raw)] = publisher.sent["dlq"]
    letter = DeadLetter.from_json(raw)
    assert (letter.reason, letter.partition, letter.offset, letter.raw) == ("not_json", 1, 1, b"{broken")
    assert outcome.publish_to_stored_seconds == [1.0, 1.0]


def test_one_model_scores_the_whole_batch_and_duplicates_collapse() -> None:
    writer, publisher, predictor = FakeWriter(), FakePublisher(), FakePredictor("3")
    asyncio.run(
        service(predictor, writer, publisher).handle(
            [
                message(0, tweet("1", "fire one")),
                message(1, tweet("1", "fire one, again")),
                message(2, tweet("2", "calm")),
            ]
        )
    )
    assert len(predictor.calls) == 1
    assert sorted(r.id for r in writer.records) == ["1", "2"]
    assert next(r.text for r in writer.records if r.id == "1") == "fire one, again"


def test_items_the_store_refuses_for_good_go_to_the_dlq_and_the_rest_is_stored() -> None:
    writer, publisher = FakeWriter(refuse={"2"}), FakePublisher()
    outcome = asyncio.run(
        service(FakePredictor("1"), writer, publisher).handle(
            [
                message(0, tweet("1", "fire"), b"1"),
                message(1, tweet("2", "huge"), b"2"),
            ]
        )
    )
    assert [r.id for r in writer.records] == ["1"]
    assert [ScoredEvent.from_json(v).id for _, v in publisher.sent["scored"]] == ["1"]
    [(_, raw)] = publisher.sent["dlq"]
    letter = DeadLetter.from_json(raw)
    assert letter.reason == "store_rejected" and letter.offset == 1 and b'"id": "2"' in letter.raw
    assert (outcome.scored, outcome.dead_lettered) == (1, 1)


def test_a_batch_of_only_bad_messages_never_touches_the_model_or_store() -> None:
    writer, publisher, predictor = FakeWriter(), FakePublisher(), FakePredictor("1")
    outcome = asyncio.run(service(predictor, writer, publisher).handle([message(0, b""), message(1, b"[1]")]))
    assert predictor.calls == [] and writer.records == []
    assert outcome.dead_lettered == 2 and outcome.model_version is None
