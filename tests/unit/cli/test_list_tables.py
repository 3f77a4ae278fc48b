"""The list commands in an 80-column terminal: every line fits, each row's values stay whole on one line, free text is
cut; ``--wide`` shows every column; ``--json`` is unchanged. The commands run in-process (the `triage` app with
CliRunner) on in-memory twins of the registry, the approval log and the stores."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from tests.helpers import prediction
from tests.twins.stores import AlertStoreTwin, PredictionStoreTwin
from tests.unit.model.approval_entries import chain
from tweet_triage.app.cli import demo as demo_cli
from tweet_triage.app.cli.main import app
from tweet_triage.app.demo import DemoSummary
from tweet_triage.broker.inbound import InboundMessage
from tweet_triage.broker.topic_reader import TopicRecord
from tweet_triage.cli.context import CliContext
from tweet_triage.clock import utc_now
from tweet_triage.contracts.dead_letters import DeadLetter
from tweet_triage.contracts.tweets import Rejection, RejectReason
from tweet_triage.model.approvals import Action, ApprovalRecord, LogEntry
from tweet_triage.model.registry import ModelVersion
from tweet_triage.monitoring import cli as monitoring_cli
from tweet_triage.monitoring.alerts.records import Alert
from tweet_triage.settings import Settings
from tweet_triage.store.records import PredictionRecord
from tweet_triage.stream.cli import dlq as dlq_cli
from tweet_triage.stream.cli import results as results_cli
from tweet_triage.stream.replay import Listing
from tweet_triage.training.cli import model as model_cli

NOW = utc_now()


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands see the clock the fixtures were made with (ages stay what the tests expect)."""
    for module in (monitoring_cli, dlq_cli, results_cli):
        monkeypatch.setattr(module, "utc_now", lambda: NOW)


def run(*args: str, width: int = 80) -> list[str]:
    """The lines `triage ARGS` prints in a terminal ``width`` columns wide."""
    console = Console(width=width, record=True, file=io.StringIO())
    result = CliRunner().invoke(app, list(args), obj=CliContext(console=console))
    assert result.exit_code == 0, repr(result.exception)
    return console.export_text().splitlines()


def assert_fits(lines: list[str], width: int = 80) -> None:
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, "\n".join(too_wide)


def row(lines: list[str], key: str, *values: str) -> str:
    """The one line that holds ``key`` (between spaces or the line's ends); it holds every value too."""
    [line] = [line for line in lines if re.search(rf"(?<!\S){re.escape(key)}(?!\S)", line)]
    for value in values:
        assert value in line, f"{value!r} is not on the line of {key!r}: {line!r}"
    return line


# ---- triage model list | approvals ----------------------------------------------------------------------------------


def version(number: str, aliases: tuple[str, ...], *, passed: bool, days_ago: int, **tags: str) -> ModelVersion:
    created_ms = int((NOW - timedelta(days=days_ago)).timestamp() * 1000)
    return ModelVersion(
        "tweet-triage",
        number,
        f"run-{number}",
        aliases,
        {"gate.passed": "true" if passed else "false", "dataset.version": "ds-3f9a0c1b2d4e5f60", **tags},
        created_ms,
        "",
    )


def point(policy: str, threshold: str, precision: str, recall: str) -> dict[str, str]:
    return {
        "operating_point.policy": policy,
        "operating_point.threshold": threshold,
        "operating_point.precision": precision,
        "operating_point.recall": recall,
    }


VERSIONS = [
    version(
        "115",
        ("candidate", "production"),
        passed=True,
        days_ago=0,
        **point("recall>=0.95", "0.1830", "0.6212", "0.9511"),
        **{"test.f1": "0.8412", "test.ece": "0.0288"},
    ),
    version(
        "14",
        ("candidate",),
        passed=False,
        days_ago=2,
        **point("f2", "0.2750", "0.6980", "0.9412"),
        **{"test.f1": "0.8"},
    ),
    version(
        "13",
        ("production",),
        passed=True,
        days_ago=3,
        **point("f2", "0.3100", "0.7134", "0.9321"),
        **{"test.f1": "0.8123", "test.ece": "0.0312"},
    ),
    version("12", (), passed=True, days_ago=400, **{"test.f1": "0.7968", "test.ece": "0.0455"}),
]


def approval(version: str, replaced: str | None, approver: str, reason: str, **changes: object) -> ApprovalRecord:
    record = ApprovalRecord(
        action=Action.PROMOTE,
        model="tweet-triage",
        version=version,
        replaced_version=replaced,
        approver=approver,
        reason=reason,
        gate_passed=True,
        override_reason=None,
        at=(NOW - timedelta(days=1)).timestamp(),
        alias_before=replaced,
    )
    return ApprovalRecord(**{**record.__dict__, **changes})


def approval_log() -> list[LogEntry]:
    entries = chain(
        approval("12", None, "bootstrap", "first model of the local stack", action=Action.BOOTSTRAP),
        approval(
            "13",
            "12",
            "ana.lopez@relief.example.org",
            "better recall on flood tweets in the weekly evaluation; calibrated [ECE 0.03]",
        ),
        approval(
            "14",
            "13",
            "ben",
            "urgent: v13 mislabels wildfire evacuation orders",
            gate_passed=False,
            override_reason="the gate's F1 check fails by 0.004 on a test split that lacks wildfire tweets",
            alias_before="115",
        ),
    )
    deleted = LogEntry(entries[1].run_id, True, entries[1].record)
    unreadable = LogEntry("run-x", False, None, "its tags no longer make an approval record (KeyError('seq'))")
    return [entries[0], deleted, entries[2], unreadable]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    log = SimpleNamespace(entries=approval_log, anchors=dict)
    registry = SimpleNamespace(versions=lambda: VERSIONS, find=lambda ref: None)
    monkeypatch.setattr(model_cli, "open_registry", lambda context: registry)
    monkeypatch.setattr(model_cli, "ApprovalLog", SimpleNamespace(beside=lambda registry: log))


@pytest.mark.usefixtures("registry")
def test_model_list_reads_at_80_columns() -> None:
    lines = run("model", "list")
    assert_fits(lines)
    assert lines[0].split() == ["ver", "aliases", "gate", "operating", "point", "F1", "ECE", "created"]
    widest = row(lines, "115", "candidate, production", "pass", "recall>=0.95 ≥0.183", "0.84", "0.03")
    assert "…" in widest, "the operating point is cut when the other columns leave too little room"
    row(lines, "14", "candidate", "fail", "f2 ≥0.275 P0.70 R0.94", "0.80")
    row(lines, "13", "production", "pass", "f2 ≥0.310 P0.71 R0.93", "0.81", "0.03")
    old = datetime.fromtimestamp(VERSIONS[3].created_ms / 1000)
    row(lines, "12", "pass", "most probable", "0.80", "0.05", old.strftime("%Y-%m-%d"))


@pytest.mark.usefixtures("registry")
def test_model_list_wide_shows_every_column_in_full() -> None:
    text = "\n".join(run("model", "list", "--wide", width=500))
    for header in ("version", "operating point (validation P/R)", "test F1", "dataset"):
        assert header in text
    assert "recall>=0.95: p >= 0.183 (P 0.62 / R 0.95)" in text
    assert "ds-3f9a0c1b2d4e5f60" in text and "0.8412" in text
    assert "dataset" not in "\n".join(run("model", "list"))


@pytest.mark.usefixtures("registry")
def test_model_approvals_reads_at_80_columns() -> None:
    lines = run("model", "approvals")
    assert_fits(lines)
    assert lines[0].split() == ["#", "when", "(UTC)", "action", "ver", "was", "by", "reason", "gate"]
    row(lines, "1", "bootstrap", "12", "first model", "pass")
    second = row(lines, "2", "promote (deleted)", "13", "12", "ana.lopez@", "better re", "pass")
    assert "ana.lopez@relief.example.org" not in second, "a long approver gives way so the reason keeps some room"
    row(lines, "3", "promote", "14", "13", "ben", "urgent: v13", "fail")
    row(lines, "unreadable", "its tags no")


@pytest.mark.usefixtures("registry")
def test_model_approvals_wide_shows_the_override_and_the_alias_move_in_their_columns() -> None:
    text = " ".join(" ".join(run("model", "approvals", "--wide", width=500)).split())
    for header in ("version", "replaced", "approver", "override"):
        assert header in text
    assert "13 (alias was at 115)" in text and "calibrated [ECE 0.03]" in text
    assert "lacks wildfire tweets" in text


# ---- triage alerts list ----------------------------------------------------------------------------------------------


def alert(id_: str, kind: str, severity: str, title: str, hours_ago: float, **changes: object) -> Alert:
    at = NOW - timedelta(hours=hours_ago)
    fields: dict[str, object] = {
        "id": id_,
        "kind": kind,
        "severity": severity,
        "title": title,
        "summary": "what happened and what to do first",
        "model_version": "13",
        "created_at": at,
        "last_seen_at": at,
        "occurrences": 4,
        "dedup_key": f"{kind}:13",
    }
    return Alert.model_validate({**fields, **changes})


@pytest.fixture
def alerts(monkeypatch: pytest.MonkeyPatch) -> list[Alert]:
    store = AlertStoreTwin()
    saved = [
        alert("al-20261205T0914-0c9d1e", "retrain", "info", "Retraining started (manual): " + "x" * 150, 60),
        alert(
            "al-20261206T1402-7f3a21",
            "accuracy",
            "warning",
            "Accuracy on human feedback fell to 81% [window 500]",
            30,
            status="acked",
            acked_by="on-call: ana.lopez@relief.example.org",
        ),
        alert("al-20261207T1701-a1b2c3", "drift", "critical", "Drift: embedding distribution of tweets shifted", 3),
        alert(
            "al-20261207T1958-5e6f70",
            "unapproved",
            "critical",
            "Unapproved model move: production points at v115 without an approval record",
            0.05,
        ),
    ]
    for item in saved:
        store.save(item)
    monkeypatch.setattr(monitoring_cli, "AlertStore", SimpleNamespace(open=lambda settings: nullcontext(store)))
    return saved


@pytest.mark.usefixtures("alerts")
def test_alerts_list_reads_at_80_columns() -> None:
    lines = run("alerts", "list")
    assert_fits(lines)
    assert lines[0].split() == ["id", "age", "severity", "kind", "title"], "only open alerts: no status column"
    row(lines, "al-20261207T1958-5e6f70", "3m", "critical", "unapproved", "Unapproved model move", "…")
    row(lines, "al-20261207T1701-a1b2c3", "3h", "critical", "drift", "Drift: embedding")
    row(lines, "al-20261205T0914-0c9d1e", "2d", "info", "retrain", "Retraining started", "…")
    assert not any("al-20261206T1402-7f3a21" in line for line in lines)


@pytest.mark.usefixtures("alerts")
def test_alerts_list_of_all_statuses_shows_the_status() -> None:
    lines = run("alerts", "list", "--status", "all")
    assert_fits(lines)
    assert "status" in lines[0].split()
    row(lines, "al-20261206T1402-7f3a21", "1d", "warning", "accuracy", "acked", "Accuracy on human")
    row(lines, "al-20261207T1701-a1b2c3", "open")


@pytest.mark.usefixtures("alerts")
def test_alerts_list_wide_shows_every_column() -> None:
    text = " ".join(" ".join(run("alerts", "list", "--status", "all", "--wide", width=500)).split())
    for header in ("created (UTC)", "model", "seen", "status"):
        assert header in text
    assert "acked by on-call: ana.lopez@relief.example.org" in text and "4×" in text and "v13" in text
    assert "fell to 81% [window 500]" in text


def test_alerts_list_json_is_one_alert_item_a_line_with_or_without_wide(alerts: list[Alert]) -> None:
    lines = run("alerts", "list", "--status", "all", "--json")
    newest_first = sorted(alerts, key=lambda a: a.order_key, reverse=True)
    assert [json.loads(line)["id"] for line in lines] == [a.id for a in newest_first]
    assert run("alerts", "list", "--status", "all", "--json", "--wide") == lines
    titles = {json.loads(line)["title"] for line in lines}
    assert "Accuracy on human feedback fell to 81% [window 500]" in titles, "JSON is printed as is, not as markup"


# ---- triage dlq list -------------------------------------------------------------------------------------------------


def letter(offset: int, reason: RejectReason, message: str, tweet_id: str | None = None, **changes: object) -> bytes:
    inbound = InboundMessage("tweets", 1, 40_000 + offset, b"key", b'{"id": "1"}', NOW.timestamp())
    built = DeadLetter.for_message(inbound, Rejection(reason, message), tweet_id=tweet_id, now=NOW - timedelta(hours=2))
    return built.model_copy(update=changes).to_json()


LETTERS = [
    letter(
        0,
        RejectReason.STORE_REJECTED,
        "refused by the results store (413): the item is larger than the 2 MB limit; shorten the text or drop fields",
        tweet_id="1602345678901234567",
    ),
    letter(1, RejectReason.NUMBER_OUT_OF_RANGE, "field 'retweets' is 1e+400, out of the range of a 64-bit float"),
    letter(2, RejectReason.STORE_REJECTED, "refused again [413]", tweet_id="1602345678901234567", replay_of="0:0"),
]


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    async def survey(settings: Settings, listing: Listing, console: Console) -> dict[int, int]:
        for offset, value in enumerate(LETTERS):
            listing.add(TopicRecord("tweets-dlq", 0, offset, None, value, None))
        return {0: len(LETTERS)}

    monkeypatch.setattr(dlq_cli, "_survey", survey)


@pytest.mark.usefixtures("dead_letters")
def test_dlq_list_reads_at_80_columns() -> None:
    lines = run("dlq", "list")
    assert_fits(lines)
    assert lines[0].split() == ["id", "when", "(UTC)", "reason", "message"]
    first = row(lines, "0:0", "store_rejected", "(superseded by 0:2) refused by the")
    assert first.endswith("…") and cell_len(first) == 80, "the message is cut to the width that is left"
    row(lines, "0:1", "number_out_of_range", "field 'retweets' is 1e+400")
    row(lines, "0:2", "store_rejected", "refused again [413]")
    assert "3 of 3 matching letter(s) shown" in " ".join(lines)


@pytest.mark.usefixtures("dead_letters")
def test_dlq_list_wide_shows_the_source_and_the_tweet_id() -> None:
    text = " ".join(" ".join(run("dlq", "list", "--wide", width=500)).split())
    for header in ("dead-lettered (UTC)", "source", "tweet id"):
        assert header in text
    assert "tweets 1:40000" in text and "1602345678901234567" in text
    assert "store_rejected (superseded by 0:2)" in text


@pytest.mark.usefixtures("dead_letters")
def test_dlq_list_json_is_unchanged_by_wide() -> None:
    lines = run("dlq", "list", "--json")
    rows = [json.loads(line) for line in lines]
    assert [(r["id"], r["reason"], r["superseded_by"]) for r in rows] == [
        ("0:0", "store_rejected", "0:2"),
        ("0:1", "number_out_of_range", None),
        ("0:2", "store_rejected", None),
    ]
    assert run("dlq", "list", "--json", "--wide") == lines


# ---- triage results tail ---------------------------------------------------------------------------------------------


def predictions() -> Iterator[PredictionRecord]:
    yield prediction(
        "1602345678901234567",
        scored_at=NOW - timedelta(seconds=40),
        text="BREAKING:\nthe river burst its banks near the old mill 🌊🌊 — families on Elm St are on their roofs, "
        "boats needed NOW, please share #flood #rescue",
        model_name="tweet-triage",
        model_version="13",
    )
    yield prediction(
        "1602345678901234999",
        scored_at=NOW - timedelta(minutes=5),
        text="洪水で道路が冠水しています。避難所の場所を教えてください [拡散希望]",
        label="not_disaster",
        other="disaster",
        model_name="tweet-triage",
        model_version="13",
    )
    yield prediction("42", scored_at=NOW - timedelta(hours=2), text="lovely sunset tonight", model_version="12")


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> list[PredictionRecord]:
    store = PredictionStoreTwin()
    store.put(predictions())
    monkeypatch.setattr(results_cli, "PredictionReader", SimpleNamespace(open=lambda settings: nullcontext(store)))
    return list(predictions())


@pytest.mark.usefixtures("stored")
def test_results_tail_reads_at_80_columns() -> None:
    lines = run("results", "tail")
    assert_fits(lines)
    assert lines[0].split() == ["age", "id", "label", "conf", "text"]
    row(lines, "1602345678901234567", "40s", "disaster", "0.90", "BREAKING: the river burst", "…")
    row(lines, "1602345678901234999", "5m", "not_disaster", "0.90", "洪水で道路が冠水")
    row(lines, "42", "2h", "disaster", "lovely sunset tonight")


@pytest.mark.usefixtures("stored")
def test_results_tail_wide_shows_the_time_and_the_model() -> None:
    text = " ".join(" ".join(run("results", "tail", "--wide", width=500)).split())
    for header in ("scored at (UTC)", "confidence", "model"):
        assert header in text
    assert "tweet-triage v13" in text and "0.900" in text and "[拡散希望]" in text


def test_results_tail_json_is_unchanged_by_wide(stored: list[PredictionRecord]) -> None:
    lines = run("results", "tail", "--json")
    assert lines == [record.model_dump_json() for record in stored]
    assert run("results", "tail", "--json", "--wide") == lines


# ---- triage demo -----------------------------------------------------------------------------------------------------


def test_the_demo_summary_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = DemoSummary(
        published=10_876,
        stored=10_876,
        labels={"disaster": 4_342, "not_disaster": 6_534},
        dead_letters=3,
        throughput=183.4,
        p50_s=0.412,
        p99_s=2.731,
        offered_rate=200.0,
        kept_up=False,
        verdict="fell behind: throughput 183/s, last tenth waited 12.3 s on average",
        model_version="13",
        worker_url="http://127.0.0.1:16066",
        api_url="http://127.0.0.1:18080",
        dashboard_url="http://127.0.0.1:18501",
        monitor_url="http://127.0.0.1:16067",
    )
    monkeypatch.setattr(demo_cli, "run_demo", lambda *args, **kwargs: summary)
    lines = run("demo")
    assert_fits(lines)
    row(lines, "tweets published", "10876")
    row(lines, "labelled not_disaster", "6534")
    row(lines, "│ throughput", "183 tweets/s (offered 200/s)")
    row(lines, "publish → stored", "p50 412 ms, p99 2731 ms")
    row(lines, "the stream", "fell behind")
    row(lines, "worker metrics:", "http://127.0.0.1:16066/metrics")
    row(lines, "monitor metrics:", "http://127.0.0.1:16067/metrics")
