"""The behaviour every implementation of a results store must have, written once and run twice.

One class per store holds its cases. A test module runs them by subclassing the class and defining the fixture the
cases take, a fresh and empty store (schema in place) for every test: tests/unit/contracts/test_store_twins.py with
the in-memory twins of tests/twins/stores.py, tests/integration/contracts/test_store_contracts.py with Cosmos DB
(the local server). The rules are those of the Cosmos implementation (``tweet_triage.store.writer``/``reader``,
``monitoring.alerts.store``, ``monitoring.feedback_store``) that its callers rely on: the worker's idempotent
upserts, the dashboard's and CLI's newest-first reads and keyset pages, the alert center's deduplication and
partial updates, the accuracy monitor's one label per tweet and annotator.

The classes are not named ``Test*``, so pytest collects them only through a subclass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import prediction
from tweet_triage.contracts.feedback import FeedbackEvent
from tweet_triage.errors import AlertNotFound, StoreError
from tweet_triage.model.places import Place
from tweet_triage.monitoring.alerts.center import AlertCenter
from tweet_triage.monitoring.alerts.records import Alert, AlertDraft, AlertKind, Delivery, Evidence
from tweet_triage.monitoring.alerts.store import AlertStorage
from tweet_triage.monitoring.feedback_store import FeedbackRecord, FeedbackStorage
from tweet_triage.store.reader import PredictionQueries
from tweet_triage.store.records import PredictionRecord
from tweet_triage.store.writer import WriteReport

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


# ---- predictions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predictions:
    """A predictions store under test: ``write`` runs one call of its write side (a ``PredictionSink``) to the end;
    ``reader`` reads the same container."""

    write: Callable[[Sequence[PredictionRecord]], WriteReport]
    reader: PredictionQueries


def full_record() -> PredictionRecord:
    """A prediction with every field set, non-ASCII text included."""
    return PredictionRecord(
        id="1001",
        label="disaster",
        confidence=0.8,
        probabilities={"disaster": 0.8, "not_disaster": 0.2},
        model_name="tweet-triage",
        model_version="3",
        scored_at=T0,
        text="Überschwemmung in Köln — 救命 😀",
        created_at=seconds(-60),
        published_at=seconds(-30),
        lang="de",
        user="ana",
        location="Köln",
        keyword="flood",
        source="replay",
        event="rhine-2026",
        threshold=0.35,
        operating_point="f2",
        language="de",
        out_of_scope=False,
        margin=0.6,
        story_id="s-1",
        place=Place(name="Cologne", country="DE", kind="city", latitude=50.94, longitude=6.96, source="text"),
    )


def oldest_first(records: Sequence[PredictionRecord]) -> list[dict[str, Any]]:
    return [record.to_item() for record in sorted(records, key=lambda r: r.order_key)]


class PredictionStoreContract:
    """The ``predictions`` container through its writer and reader; subclasses provide the fixture ``predictions``."""

    def test_a_written_record_reads_back_exactly(self, predictions: Predictions) -> None:
        record = full_record()
        predictions.write([record])
        reader = predictions.reader
        assert reader.get(record.id) == record
        assert reader.find([record.id]) == {record.id: record}
        assert reader.tail(1) == [record]
        assert list(reader.iter_items()) == [record.to_item()]  # what the store adds to an item is not returned

    def test_writing_a_tweet_again_replaces_its_record(self, predictions: Predictions) -> None:
        first = prediction("t1", scored_at=T0)
        other = prediction("t2", scored_at=seconds(1))
        rescored = prediction("t1", scored_at=seconds(2), label="not_disaster", other="disaster", model_version="2")
        predictions.write([first, other])
        predictions.write([first, other])  # a redelivered batch
        predictions.write([rescored])  # the tweet scored again by a newer model
        reader = predictions.reader
        assert reader.count() == 2
        assert reader.get("t1") == rescored
        assert [r.id for r in reader.tail(10)] == ["t1", "t2"]  # no copy left at the old place in time

    def test_within_one_call_the_last_record_of_a_tweet_wins(self, predictions: Predictions) -> None:
        first = prediction("t1", scored_at=T0)
        last = prediction("t1", scored_at=T0, text="flood water rising, corrected")
        report = predictions.write([first, prediction("t2", scored_at=T0), last])
        assert report.written == 2
        assert predictions.reader.get("t1") == last

    def test_a_tweet_never_written_is_absent(self, predictions: Predictions) -> None:
        stored = prediction("t1", scored_at=T0)
        predictions.write([stored])
        reader = predictions.reader
        assert reader.get("t2") is None
        assert reader.find(["t2", "t1", "t1"]) == {"t1": stored}
        assert reader.find([]) == {}

    def test_find_answers_for_more_ids_than_one_query_takes(self, predictions: Predictions) -> None:
        records = [prediction(f"t{i:03}", scored_at=seconds(i / 1000)) for i in range(150)]
        predictions.write(records)
        found = predictions.reader.find([*(r.id for r in records), "missing"])
        assert found == {r.id: r for r in records}

    def test_counts_in_total_per_label_and_for_the_newest_models_labels(self, predictions: Predictions) -> None:
        predictions.write(
            [
                prediction("t1", scored_at=T0),
                prediction("t2", scored_at=seconds(1)),
                prediction("t3", scored_at=seconds(2), label="not_disaster", other="disaster"),
            ]
        )
        reader = predictions.reader
        assert (reader.count(), reader.count("disaster"), reader.count("no-such-label")) == (3, 2, 0)
        assert reader.labels() == ["disaster", "not_disaster"]
        assert reader.count_by_label() == {"disaster": 2, "not_disaster": 1}
        assert reader.count_by_label(["fire"]) == {"fire": 0}

        predictions.write([prediction("t4", scored_at=seconds(3), label="fire", other="flood")])  # a new model
        assert reader.labels() == ["fire", "flood"]
        assert reader.count_by_label() == {"fire": 1, "flood": 0}

    def test_an_empty_store_has_nothing_to_show(self, predictions: Predictions) -> None:
        reader = predictions.reader
        assert (reader.count(), reader.labels(), reader.count_by_label()) == (0, [], {})
        assert reader.tail(5) == []
        assert list(reader.iter_items()) == []

    def test_tail_is_the_newest_first_and_at_most_n(self, predictions: Predictions) -> None:
        records = [prediction(f"t{i}", scored_at=seconds(i)) for i in range(6)]
        predictions.write(records[::-1])
        reader = predictions.reader
        assert [r.id for r in reader.tail(3)] == ["t5", "t4", "t3"]
        assert [r.id for r in reader.tail(100)] == ["t5", "t4", "t3", "t2", "t1", "t0"]
        assert reader.tail(0) == []

    def test_records_scored_at_the_same_moment_are_ordered_by_tweet_id(self, predictions: Predictions) -> None:
        predictions.write([prediction(tweet_id, scored_at=T0) for tweet_id in ("b", "c", "a")])  # one micro-batch
        reader = predictions.reader
        assert [item["id"] for item in reader.iter_items()] == ["a", "b", "c"]
        assert [r.id for r in reader.tail(2)] == ["c", "b"]

    def test_iter_items_pages_through_every_item_once_in_order(self, predictions: Predictions) -> None:
        records = [prediction(f"t{i:02}", scored_at=seconds(i % 4)) for i in range(10)]  # ties across page ends
        predictions.write(records)
        expected = oldest_first(records)
        for page_size in (1, 3, 5, 10, 500):
            assert list(predictions.reader.iter_items(page_size=page_size)) == expected, page_size
            newest = list(predictions.reader.iter_items(newest_first=True, page_size=page_size))
            assert newest == expected[::-1], page_size

    def test_iter_items_refuses_a_page_size_below_one(self, predictions: Predictions) -> None:
        with pytest.raises(ValueError, match="page_size"):
            next(predictions.reader.iter_items(page_size=0))

    def test_export_writes_every_item_oldest_first_as_json_lines(
        self, predictions: Predictions, tmp_path: Path
    ) -> None:
        records = [prediction(f"t{i}", scored_at=seconds(-i)) for i in range(5)]
        predictions.write(records)
        out = tmp_path / "predictions.jsonl"
        assert predictions.reader.export(out, page_size=2) == 5
        assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == oldest_first(records)


# ---- alerts -----------------------------------------------------------------------------------------------------


def draft(version: str = "3", *, kind: AlertKind = "drift", statistic: float = 0.2, at: datetime = T0) -> AlertDraft:
    evidence = Evidence(source="embedding", statistic=statistic, threshold=0.1, window=20, at=at, observed=100)
    return AlertDraft(
        kind=kind,
        severity="warning",
        title=f"{kind} on {version}",
        summary="s",
        model_version=version,
        evidence=evidence,
    )


def alert(alert_id: str, at: datetime, *, kind: AlertKind = "drift", version: str = "3", **changes: Any) -> Alert:
    """An alert raised at ``at`` (dedup key ``<kind>:<version>``), with ``changes`` applied."""
    return draft(version, kind=kind, at=at).to_alert(at).model_copy(update={"id": alert_id, **changes})


def ids(alerts: Sequence[Alert]) -> list[str]:
    return [a.id for a in alerts]


class AlertStoreContract:
    """The ``alerts`` container; subclasses provide the fixture ``alerts`` (an ``AlertStorage``)."""

    def test_a_saved_alert_reads_back_exactly(self, alerts: AlertStorage) -> None:
        saved = alert(
            "al-1",
            T0,
            details={"trigger": "drift", "caused_by": ["al-0"], "n": 3},
            delivery=Delivery(
                status="pending", attempts=2, rounds=1, last_error="timeout", next_attempt_at=seconds(60)
            ),
        )
        assert alerts.save(saved) == saved
        assert alerts.get("al-1") == saved
        assert alerts.recent() == [saved]

    def test_an_unknown_alert_is_not_found(self, alerts: AlertStorage) -> None:
        alerts.save(alert("al-1", T0))
        with pytest.raises(AlertNotFound):
            alerts.get("al-2")
        with pytest.raises(AlertNotFound):
            alerts.ack("al-2", by="ana", at=T0)

    def test_saving_an_alert_again_replaces_it(self, alerts: AlertStorage) -> None:
        first = alert("al-1", T0)
        alerts.save(first)
        alerts.save(first.model_copy(update={"title": "drift on 3, renamed"}))
        assert [a.title for a in alerts.recent()] == ["drift on 3, renamed"]

    def test_recent_is_newest_first_filtered_and_limited(self, alerts: AlertStorage) -> None:
        acked: dict[str, Any] = {"status": "acked", "acked_by": "ana", "acked_at": seconds(300)}
        for saved in (
            alert("al-2", seconds(120)),
            alert("al-0", T0),
            alert("al-3", seconds(180), kind="accuracy", **acked),
            alert("al-1", seconds(60), kind="accuracy"),
        ):
            alerts.save(saved)
        assert ids(alerts.recent()) == ["al-3", "al-2", "al-1", "al-0"]
        assert ids(alerts.recent(limit=2)) == ["al-3", "al-2"]
        assert ids(alerts.recent(kind="drift")) == ["al-2", "al-0"]
        assert ids(alerts.recent(status="acked")) == ["al-3"]
        assert ids(alerts.recent(status="open", kind="accuracy")) == ["al-1"]
        assert ids(alerts.recent(since=seconds(120))) == ["al-3", "al-2"]  # raised exactly then counts

    def test_latest_is_the_newest_alert_with_the_dedup_key(self, alerts: AlertStorage) -> None:
        alerts.save(alert("al-2", seconds(3600)))
        alerts.save(alert("al-1", T0))
        alerts.save(alert("al-3", seconds(7200), version="4"))
        newest = alerts.latest("drift:3")
        assert newest is not None and newest.id == "al-2"
        other = alerts.latest("drift:4")
        assert other is not None and other.id == "al-3"
        assert alerts.latest("drift:5") is None

    def test_undelivered_is_pending_and_due_oldest_first(self, alerts: AlertStorage) -> None:
        for saved in (
            alert("al-2", seconds(120), delivery=Delivery(status="pending", next_attempt_at=seconds(1200))),
            alert("al-0", T0, delivery=Delivery(status="pending")),  # no due time: a crash left it
            alert("al-1", seconds(60), delivery=Delivery(status="pending", next_attempt_at=seconds(600))),
            alert("al-3", seconds(180), delivery=Delivery(status="delivered", attempts=1, delivered_at=seconds(181))),
            alert("al-4", seconds(240), delivery=Delivery(status="failed", last_error="HTTP 404")),
            alert("al-5", seconds(300), delivery=Delivery(status="disabled")),
        ):
            alerts.save(saved)
        assert ids(alerts.undelivered(due=seconds(600))) == ["al-0", "al-1"]  # due exactly then counts
        assert ids(alerts.undelivered(due=seconds(600), limit=1)) == ["al-0"]
        assert ids(alerts.undelivered(due=seconds(3600))) == ["al-0", "al-1", "al-2"]

    def test_each_partial_update_changes_only_its_own_fields(self, alerts: AlertStorage) -> None:
        raised = alert("al-1", T0, delivery=Delivery(status="pending", next_attempt_at=seconds(120)))
        alerts.save(raised)
        stale = alerts.get("al-1")  # read before the updates below, as a second process would
        delivered = Delivery(status="delivered", attempts=1, rounds=1, delivered_at=seconds(1))
        alerts.set_delivery("al-1", delivered)
        alerts.ack("al-1", by="ana", at=seconds(5))
        evidence = [*stale.evidence, draft(statistic=0.4, at=seconds(10)).evidence]
        repeat = stale.model_copy(update={"occurrences": 2, "last_seen_at": seconds(10), "evidence": evidence})
        assert alerts.save_repeat(repeat) == repeat
        alerts.set_details("al-1", {"status": "started", "job": "job-1"})
        assert alerts.get("al-1") == raised.model_copy(
            update={
                "delivery": delivered,
                "status": "acked",
                "acked_by": "ana",
                "acked_at": seconds(5),
                "occurrences": 2,
                "last_seen_at": seconds(10),
                "evidence": evidence,
                "details": {"status": "started", "job": "job-1"},
            }
        )

    def test_an_alert_is_acknowledged_once(self, alerts: AlertStorage) -> None:
        alerts.save(alert("al-1", T0))
        first = alerts.ack("al-1", by="ana", at=seconds(60))
        assert (first.status, first.acked_by, first.acked_at) == ("acked", "ana", seconds(60))
        assert alerts.ack("al-1", by="ben", at=seconds(120)) == first  # the first acknowledgement stands
        assert alerts.get("al-1") == first
        assert alerts.recent(status="open") == []

    def test_updating_an_alert_that_is_not_stored_stores_nothing(self, alerts: AlertStorage) -> None:
        with pytest.raises(StoreError):
            alerts.set_delivery("al-1", Delivery(status="delivered"))
        with pytest.raises(AlertNotFound):
            alerts.get("al-1")

    def test_the_alert_center_keeps_repeats_within_the_cooldown_as_one_alert(self, alerts: AlertStorage) -> None:
        now = [T0]
        center = AlertCenter(alerts, None, cooldown_s=3600, clock=lambda: now[0])
        first = center.raise_alert(draft("3"))
        now[0] = seconds(1800)
        repeat = center.raise_alert(draft("3", statistic=0.5))
        other_model = center.raise_alert(draft("4"))
        now[0] = seconds(1800 + 3600)  # an hour after the last repeat: a new incident
        later = center.raise_alert(draft("3"))
        assert (first.new, repeat.new, other_model.new, later.new) == (True, False, True, True)
        assert repeat.alert.id == first.alert.id
        stored = alerts.recent()
        assert ids(stored) == [later.alert.id, other_model.alert.id, first.alert.id]
        assert [(a.model_version, a.occurrences) for a in stored] == [("3", 1), ("4", 1), ("3", 2)]
        incident = alerts.get(first.alert.id)
        assert incident.last_seen_at == seconds(1800)
        assert [e.statistic for e in incident.evidence] == [0.2, 0.5]


# ---- feedback ---------------------------------------------------------------------------------------------------


def labelled(
    tweet_id: str,
    label: str = "disaster",
    *,
    annotator: str = "ana",
    received: datetime = T0,
    version: str | None = "3",
    comment: str | None = None,
) -> FeedbackRecord:
    """``annotator``'s label for ``tweet_id``, joined with a stored ``disaster`` prediction of ``version`` (none:
    no prediction was stored)."""
    event = FeedbackEvent(
        tweet_id=tweet_id,
        label=label,
        annotator=annotator,
        labelled_at=received,
        comment=comment,
        model_version=version,
    )
    stored = prediction(tweet_id, scored_at=seconds(-3600), model_version=version) if version is not None else None
    return FeedbackRecord.join(event, stored, received)


def tweets(records: Sequence[FeedbackRecord]) -> list[str]:
    return [r.tweet_id for r in records]


class FeedbackStoreContract:
    """The ``feedback`` container; subclasses provide the fixture ``feedback`` (a ``FeedbackStorage``)."""

    def test_a_saved_label_reads_back_joined_with_its_prediction(self, feedback: FeedbackStorage) -> None:
        record = labelled("t1", "not_disaster", comment="a film, not a flood", received=seconds(1))
        feedback.save(record)
        stored = feedback.get("t1", "ana")
        assert stored is not None and stored == record
        assert (stored.predicted_label, stored.predicted_version, stored.correct) == ("disaster", "3", False)
        assert stored.text == "flood water rising"

    def test_a_label_of_a_tweet_without_a_prediction_has_no_verdict(self, feedback: FeedbackStorage) -> None:
        feedback.save(labelled("t1", version=None))
        stored = feedback.get("t1", "ana")
        assert stored is not None and (stored.predicted_label, stored.correct, stored.text) == (None, None, None)
        assert feedback.recent(predicted_version="3", limit=10) == []

    def test_a_label_is_found_only_by_its_tweet_and_annotator(self, feedback: FeedbackStorage) -> None:
        feedback.save(labelled("t1"))
        assert feedback.get("t1", "ben") is None
        assert feedback.get("t2", "ana") is None

    def test_one_item_per_tweet_and_annotator(self, feedback: FeedbackStorage) -> None:
        feedback.save(labelled("t1", "disaster"))
        feedback.save(labelled("t1", "not_disaster", received=seconds(60)))  # ana changed her mind
        feedback.save(labelled("t1", "disaster", annotator="ben", received=seconds(30)))
        stored = feedback.get("t1", "ana")
        assert stored is not None and stored.label == "not_disaster"
        assert sorted((r.annotator, r.label) for r in feedback.iter_all()) == [
            ("ana", "not_disaster"),
            ("ben", "disaster"),
        ]

    def test_recent_is_the_newest_labels_of_one_version_oldest_first(self, feedback: FeedbackStorage) -> None:
        for i in (3, 0, 4, 1, 2):
            feedback.save(labelled(f"t{i}", received=seconds(i)))
        feedback.save(labelled("t9", version="4", received=seconds(10)))
        feedback.save(labelled("t8", version=None, received=seconds(11)))
        assert tweets(feedback.recent(predicted_version="3", limit=3)) == ["t2", "t3", "t4"]
        assert tweets(feedback.recent(predicted_version="3", limit=10)) == ["t0", "t1", "t2", "t3", "t4"]
        assert tweets(feedback.recent(predicted_version="4", limit=10)) == ["t9"]
        assert feedback.recent(predicted_version="5", limit=10) == []

    def test_iter_all_pages_through_every_label_once_oldest_first(self, feedback: FeedbackStorage) -> None:
        records = [labelled(f"t{i}", received=seconds(i % 3)) for i in range(7)]  # ties across page ends
        for record in records:
            feedback.save(record)
        expected = sorted(records, key=lambda r: r.order_key)
        for page_size in (1, 2, 7, 500):
            assert list(feedback.iter_all(page_size=page_size)) == expected, page_size
