"""ScoringService with in-memory fakes: the batch logic without Faust, Kafka or Cosmos.

What one message can do to a batch: nothing but its own dead letter. What a dependency can do: pause the batch
(store or broker away) or stop the worker (a model that fails on everything) — never dead-letter good tweets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from tests import hostile_corpus
from tests.hostile_corpus import STORED
from tests.twins.stores import PredictionStoreTwin
from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.contracts.dead_letters import DeadLetter
from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.model.language import Language, identify_all
from tweet_triage.model.operating_point import Decision, OperatingPoint, decisions
from tweet_triage.model.predictor import Predictor, ScoredBatch
from tweet_triage.store.retry import Backoff, RetryPolicy
from tweet_triage.stream.scoring import DeadLetterRefused, ModelFailure, ScoringService, Topics

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ONE_MIB = 1024 * 1024


class FakePredictor:
    labels: ClassVar[list[str]] = ["disaster", "not_disaster"]

    def __init__(
        self,
        version: str,
        *,
        poison: Callable[[str], bool] = lambda text: False,
        broken: bool = False,
        point: OperatingPoint | None = None,
    ):
        self.version = version
        self.calls: list[list[str]] = []
        self._poison = poison
        self._broken = broken
        self.point = point

    def decide(self, probabilities: npt.NDArray[np.float32]) -> list[Decision]:
        return decisions(probabilities, self.labels, self.point)

    def languages(self, texts: Sequence[str]) -> list[Language]:
        return identify_all(texts, ["en"])

    def score(self, texts: Sequence[str], keywords: Sequence[str | None] | None = None) -> ScoredBatch:
        self.calls.append(list(texts))
        if self._broken or any(self._poison(t) for t in texts):
            raise RuntimeError("ONNX Runtime: invalid input")
        p = np.array([[0.9, 0.1] if "fire" in t else [0.2, 0.8] for t in texts], np.float32)
        if any("nan" in t for t in texts):
            p[[i for i, t in enumerate(texts) if "nan" in t]] = np.nan
        return ScoredBatch(p, np.ones((len(texts), 4), np.float32))


class FakePublisher:
    """Records acknowledged messages per topic; ``outcome`` decides, per message, an error instead."""

    def __init__(self, outcome: Callable[[str, bytes, int], BaseException | None] | None = None) -> None:
        self.sent: dict[str, list[tuple[bytes | None, bytes]]] = {"scored": [], "dlq": []}
        self.calls = 0
        self._outcome = outcome

    async def send_many(self, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> list[BaseException | None]:
        self.calls += 1
        outcomes: list[BaseException | None] = []
        for key, value in messages:
            error = self._outcome(topic, value, self.calls) if self._outcome else None
            if error is None:
                self.sent[topic].append((key, value))
            outcomes.append(error)
        return outcomes

    def letters(self) -> list[DeadLetter]:
        return [DeadLetter.from_json(value) for _, value in self.sent["dlq"]]


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def message(offset: int, value: bytes | None, key: bytes | None = None, **extra: Any) -> InboundMessage:
    return InboundMessage("tweets", 1, offset, key, value, NOW.timestamp(), **extra)


def tweet(tweet_id: str, text: str) -> bytes:
    return json.dumps({"id": tweet_id, "text": text, "published_at": "2026-11-26T11:59:59Z"}).encode()


def service(
    predictor: Any, writer: PredictionStoreTwin, publisher: FakePublisher, sleeps: Sleeps | None = None
) -> ScoringService:
    async def inline(work: Any) -> Any:
        return work()

    return ScoringService(
        model_name="tweet-triage",
        predictor=lambda: cast(Predictor, predictor),
        writer=writer,
        publisher=publisher,
        topics=Topics(scored="scored", dlq="dlq"),
        broker_policy=RetryPolicy.forever(backoff=Backoff(initial_s=0.5, max_s=4.0)),
        run_blocking=inline,
        clock=lambda: NOW,
        sleep=sleeps or Sleeps(),
    )


def handle(svc: ScoringService, messages: list[InboundMessage]) -> Any:
    return asyncio.run(svc.handle(messages))


def test_valid_tweets_are_stored_and_published_bad_ones_dead_lettered() -> None:
    writer, publisher, predictor = PredictionStoreTwin(), FakePublisher(), FakePredictor("7")
    outcome = handle(
        service(predictor, writer, publisher),
        [message(0, tweet("1", "fire downtown"), b"1"), message(1, b"{broken"), message(2, tweet("2", "nice song"))],
    )
    assert (outcome.received, outcome.scored, outcome.dead_lettered) == (3, 2, 1)
    assert [(r.id, r.label, r.model_version) for r in writer.records] == [
        ("1", "disaster", "7"),
        ("2", "not_disaster", "7"),
    ]
    scored = [ScoredEvent.from_json(v) for _, v in publisher.sent["scored"]]
    assert [s.id for s in scored] == ["1", "2"]
    assert all(s.vector is not None and s.vector.shape == (4,) for s in scored)
    [letter] = publisher.letters()
    assert (letter.reason, letter.partition, letter.offset, letter.raw) == ("not_json", 1, 1, b"{broken")
    assert letter.source_timestamp == NOW and letter.tweet_id is None
    assert outcome.publish_to_stored_seconds == [1.0, 1.0]


def test_one_model_scores_the_whole_batch_and_duplicates_collapse() -> None:
    writer, publisher, predictor = PredictionStoreTwin(), FakePublisher(), FakePredictor("3")
    handle(
        service(predictor, writer, publisher),
        [message(0, tweet("1", "fire one")), message(1, tweet("1", "fire one, again")), message(2, tweet("2", "calm"))],
    )
    assert len(predictor.calls) == 1
    assert sorted(r.id for r in writer.records) == ["1", "2"]
    assert next(r.text for r in writer.records if r.id == "1") == "fire one, again"


def timed(tweet_id: str, text: str, created_at: str | None) -> bytes:
    return json.dumps({"id": tweet_id, "text": text, **({"created_at": created_at} if created_at else {})}).encode()


def test_of_copies_in_a_batch_the_latest_event_time_wins_and_the_rest_are_counted() -> None:
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    outcome = handle(
        service(FakePredictor("3"), writer, publisher),
        [
            message(0, timed("1", "edited later", "2026-11-26T10:05:00Z"), b"1"),
            message(1, timed("1", "the first version", "2026-11-26T10:00:00Z"), b"1"),  # re-sent late: older
            message(2, timed("1", "no time", None), b"1"),  # no event time: the later delivery wins
            message(3, timed("2", "calm", None), b"2"),
        ],
    )
    assert {r.id: r.text for r in writer.records} == {"1": "no time", "2": "calm"}
    assert (outcome.received, outcome.scored, outcome.dead_lettered, outcome.duplicates) == (4, 2, 0, 2)
    writer2 = PredictionStoreTwin()
    handle(
        service(FakePredictor("3"), writer2, FakePublisher()),
        [message(0, timed("1", "newer", "2026-11-26T10:05:00Z")), message(1, timed("1", "older", "2026-11-26T10:00Z"))],
    )
    assert [r.text for r in writer2.records] == ["newer"]


def test_a_key_that_is_not_the_tweet_id_is_dead_lettered_and_fields_set_aside_are_counted() -> None:
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    long_place = json.dumps({"id": "2", "text": "flood", "location": "x" * 1_000, "created_at": "soon"}).encode()
    outcome = handle(
        service(FakePredictor("3"), writer, publisher),
        [message(0, tweet("1", "fire"), b"another-id"), message(1, long_place, b"2")],
    )
    [letter] = publisher.letters()
    assert (letter.reason, letter.tweet_id, letter.key) == ("key_mismatch", "1", b"another-id")
    assert [r.id for r in writer.records] == ["2"]
    assert sorted(outcome.set_aside) == ["created_at", "location"]
    assert (outcome.received, outcome.scored, outcome.dead_lettered) == (2, 1, 1)


def test_items_the_store_refuses_for_themselves_go_to_the_dlq_and_the_rest_is_stored() -> None:
    writer, publisher = PredictionStoreTwin(refuse={"2"}), FakePublisher()
    outcome = handle(
        service(FakePredictor("1"), writer, publisher),
        [message(0, tweet("1", "fire"), b"1"), message(1, tweet("2", "huge"), None)],
    )
    assert [r.id for r in writer.records] == ["1"]
    assert [ScoredEvent.from_json(v).id for _, v in publisher.sent["scored"]] == ["1"]
    [letter] = publisher.letters()
    assert letter.reason == "store_rejected" and letter.offset == 1 and b'"id": "2"' in letter.raw
    assert letter.tweet_id == "2" and letter.key is None  # the source message, found by offset, not key
    assert publisher.sent["dlq"][0][0] == b"2"
    assert (outcome.scored, outcome.dead_lettered) == (1, 1)


def test_a_batch_of_only_bad_messages_never_touches_the_model_or_store() -> None:
    writer, publisher, predictor = PredictionStoreTwin(), FakePublisher(), FakePredictor("1")
    outcome = handle(service(predictor, writer, publisher), [message(0, b""), message(1, b"[1]")])
    assert predictor.calls == [] and writer.records == []
    assert outcome.dead_lettered == 2 and outcome.model_version is None


# ---- isolation by halving ---------------------------------------------------------------------------------------


def test_a_tweet_the_model_fails_on_is_isolated_by_halving_and_dead_lettered_alone() -> None:
    predictor = FakePredictor("2", poison=lambda text: "poison" in text)
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    messages = [message(i, tweet(f"t{i}", "poison pill" if i == 11 else f"fire {i}")) for i in range(16)]
    outcome = handle(service(predictor, writer, publisher), messages)
    assert sorted(r.id for r in writer.records) == sorted(f"t{i}" for i in range(16) if i != 11)
    [letter] = publisher.letters()
    assert (letter.reason, letter.tweet_id, letter.offset) == ("scoring_failed", "t11", 11)
    assert "ONNX Runtime: invalid input" in letter.message
    assert len(predictor.calls) <= 1 + 2 * 4  # log2(16) levels of two halves each
    assert (outcome.scored, outcome.dead_lettered) == (15, 1)


def test_when_the_model_fails_on_every_tweet_but_scores_a_known_good_one_the_tweets_are_dead_lettered() -> None:
    predictor = FakePredictor("2", poison=lambda text: "poison" in text)
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    outcome = handle(service(predictor, writer, publisher), [message(i, tweet(f"p{i}", "poison")) for i in range(3)])
    assert writer.records == [] and [x.reason for x in publisher.letters()] == ["scoring_failed"] * 3
    assert outcome.dead_lettered == 3


def test_a_model_that_fails_on_everything_stops_the_worker_and_dead_letters_nothing() -> None:
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    with pytest.raises(ModelFailure, match="even a known-good one"):
        handle(service(FakePredictor("2", broken=True), writer, publisher), [message(0, tweet("a", "fire"))])
    assert writer.records == [] and publisher.sent == {"scored": [], "dlq": []}


def test_scores_that_cannot_be_stored_are_dead_lettered_not_written() -> None:
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    handle(
        service(FakePredictor("2"), writer, publisher), [message(0, tweet("a", "nan")), message(1, tweet("b", "ok"))]
    )
    assert [r.id for r in writer.records] == ["b"]
    [letter] = publisher.letters()
    assert letter.reason == "scoring_failed" and "cannot be stored" in letter.message


# ---- the broker -------------------------------------------------------------------------------------------------


def test_a_broker_outage_pauses_the_batch_and_loses_nothing() -> None:
    down = KafkaConnectionError("broker gone")
    publisher = FakePublisher(lambda topic, value, call: down if call <= 3 else None)
    writer, sleeps = PredictionStoreTwin(), Sleeps()
    outcome = handle(
        service(FakePredictor("1"), writer, publisher, sleeps), [message(0, tweet("a", "fire")), message(1, b"x")]
    )
    assert len(publisher.sent["scored"]) == 1 and len(publisher.sent["dlq"]) == 1
    assert len(sleeps.waits) == 3 and sleeps.waits == sorted(sleeps.waits)
    assert outcome.dead_lettered == 1  # only the bad message, none for the outage


def test_a_scored_event_the_broker_refuses_for_itself_dead_letters_its_tweet() -> None:
    publisher = FakePublisher(lambda topic, value, call: MessageSizeTooLargeError() if topic == "scored" else None)
    writer = PredictionStoreTwin()
    handle(service(FakePredictor("1"), writer, publisher), [message(0, tweet("a", "fire"))])
    assert [r.id for r in writer.records] == ["a"]  # stored; only its event for the monitor was refused
    [letter] = publisher.letters()
    assert letter.reason == "publish_refused" and letter.tweet_id == "a"


def test_a_dead_letter_the_broker_refuses_is_sent_again_without_its_payload() -> None:
    def refuse_big(topic: str, value: bytes, call: int) -> BaseException | None:
        return MessageSizeTooLargeError() if topic == "dlq" and len(value) > 10_000 else None

    publisher = FakePublisher(refuse_big)
    handle(service(FakePredictor("1"), PredictionStoreTwin(), publisher), [message(0, b"x" * 50_000), message(1, b"y")])
    letters = sorted(publisher.letters(), key=lambda x: x.offset)
    assert [(x.offset, x.raw_size, x.raw) for x in letters] == [(0, 50_000, b""), (1, 1, b"y")]
    assert letters[0].raw_truncated and "the broker refused the full letter" in letters[0].message


def test_a_broker_that_refuses_even_payload_free_letters_stops_the_worker() -> None:
    publisher = FakePublisher(lambda topic, value, call: MessageSizeTooLargeError() if topic == "dlq" else None)
    with pytest.raises(DeadLetterRefused):
        handle(service(FakePredictor("1"), PredictionStoreTwin(), publisher), [message(0, b"bad")])


def test_an_unexplained_send_error_is_not_dead_lettered_but_raised() -> None:
    publisher = FakePublisher(lambda topic, value, call: TypeError("bug"))
    with pytest.raises(TypeError, match="bug"):
        handle(service(FakePredictor("1"), PredictionStoreTwin(), publisher), [message(0, tweet("a", "fire"))])


# ---- the hostile corpus -----------------------------------------------------------------------------------------


def test_the_hostile_corpus_in_one_batch_dead_letters_each_bad_message_and_stores_everything_else() -> None:
    corpus = hostile_corpus.corpus()
    good = [
        message(i, tweet(f"good-{i}", f"flood water rising near bridge {i}"), f"good-{i}".encode()) for i in range(20)
    ]
    hostile = [
        message(
            100 + i,
            h.value,
            h.key,
            headers=h.headers,
        )
        if h.timestamp_ms is None
        else InboundMessage("tweets", 1, 100 + i, h.key, h.value, h.timestamp_ms / 1000, h.headers)
        for i, h in enumerate(corpus)
    ]
    mixed = [m for pair in zip(good, hostile[: len(good)], strict=True) for m in pair] + hostile[len(good) :]
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    outcome = handle(service(FakePredictor("1"), writer, publisher), mixed)

    stored = {r.id for r in writer.records}
    assert stored == {f"good-{i}" for i in range(20)} | {h.tweet_id for h in corpus if h.expect == STORED}
    letters = {(x.raw_sha256, x.key_sha256): x for x in publisher.letters()}
    expected = {h.fingerprint: h for h in corpus if h.expect != STORED}
    assert set(letters) == set(expected)
    for fingerprint, h in expected.items():
        letter = letters[fingerprint]
        assert letter.reason == h.expect, h.kind
        assert letter.offset == 100 + corpus.index(h)
    assert all(len(value) < ONE_MIB and len(key or b"") <= 1024 for key, value in publisher.sent["dlq"])
    assert outcome.dead_lettered == len(expected)


def test_labels_follow_the_packages_operating_point_and_records_say_which_threshold_made_them() -> None:
    # p(disaster) is 0.2 for a tweet without "fire": not a disaster by the most probable label, one at p >= 0.15
    point = OperatingPoint("f2", "disaster", 0.15, 0.7, 0.95, 0.8, 0.88, 100)
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    handle(
        service(FakePredictor("4", point=point), writer, publisher),
        [message(0, tweet("1", "the river is rising near the school")), message(1, tweet("2", "fire downtown"))],
    )
    assert [(r.label, r.threshold, r.operating_point) for r in writer.records] == [
        ("disaster", 0.15, "f2"),
        ("disaster", 0.15, "f2"),
    ]
    assert writer.records[0].confidence == pytest.approx(0.2)  # still the probability of the chosen label
    scored = [ScoredEvent.from_json(v) for _, v in publisher.sent["scored"]]
    assert [(s.label, s.threshold) for s in scored] == [("disaster", 0.15), ("disaster", 0.15)]
    assert scored[0].to_prediction() == writer.records[0]  # the topic rebuilds the record, decision included


def test_a_tweet_in_another_language_is_scored_and_flagged_out_of_scope() -> None:
    writer, publisher = PredictionStoreTwin(), FakePublisher()
    handle(
        service(FakePredictor("4"), writer, publisher),
        [
            message(0, tweet("1", "Terremoto a Napoli, crollata una casa in centro, servono soccorsi")),
            message(1, tweet("2", "Huge fire near the highway, roads closed")),
            message(2, tweet("3", "lol")),
        ],
    )
    assert [(r.id, r.language, r.out_of_scope) for r in writer.records] == [
        ("1", "it", True),
        ("2", "en", False),
        ("3", None, False),  # too short to tell: in scope
    ]
