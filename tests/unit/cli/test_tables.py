"""The shared list table: compact rows that fit the terminal (whole values, free text cut), every column with wide."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.markup import escape

from tweet_triage.cli.tables import MIN_TEXT, Column, ListTable, age, key_value_table, short_number, short_time

NOW = datetime(2026, 12, 7, 20, 1, tzinfo=UTC)
TWEET = (
    "BREAKING:\nthe river burst its banks near the old mill 🌊🌊 — families on Elm St are on their roofs, boats "
    "needed NOW, please share #flood #rescue"
)


def render(renderable: RenderableType, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text().splitlines()


def letters(*, wide: bool = False) -> ListTable:
    table = ListTable(
        Column("id"),
        Column("label"),
        Column("source", compact=False),
        Column("text", "tweet text", text=True),
        Column("conf", "confidence", justify="right"),
        wide=wide,
    )
    table.add_row("1602345678901234567", "disaster", "tweets 0:1234", TWEET, "0.97")
    table.add_row("17", "not_disaster", "tweets 1:9", escape("lovely [sunset] tonight"), "0.88")
    return table


def line_with(lines: list[str], text: str) -> str:
    [line] = [line for line in lines if text in line]
    return line


def test_the_compact_table_fills_the_width_and_cuts_only_the_free_text() -> None:
    lines = render(letters())
    assert max(cell_len(line) for line in lines) == 80, "the tweet takes exactly the width the other columns leave"
    first = line_with(lines, "1602345678901234567")
    assert "disaster" in first and first.rstrip().endswith("0.97")
    assert "BREAKING: the river burst its banks" in first, "a newline in free text becomes a space"
    assert "…" in first and "#rescue" not in "\n".join(lines)
    assert "lovely [sunset] tonight" in line_with(lines, "not_disaster")


def test_the_compact_table_uses_short_headers_and_leaves_out_wide_only_columns() -> None:
    header = render(letters())[0]
    assert header.split() == ["id", "label", "text", "conf"]


def test_short_free_text_is_not_padded_to_the_width() -> None:
    table = ListTable(Column("id"), Column("title", text=True))
    table.add_row("a1", "short")
    assert render(table) == ["id  title", "─────────", "a1  short"]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_line_fits_whatever_the_width(width: int) -> None:
    lines = render(letters(), width)
    assert max(cell_len(line) for line in lines) <= width
    assert "1602345678901234567" in line_with(lines, "0.97")


def test_a_squeezable_column_gives_way_before_free_text_gets_too_narrow_and_a_whole_one_never_does() -> None:
    table = ListTable(Column("#"), Column("by", squeeze=True), Column("id"), Column("reason", text=True))
    table.add_row("1", "ana.lopez@relief.example.org", "al-20261207T1701-a1b2c3-with-a-long-suffix", "x" * 100)
    lines = render(table, 72)
    assert max(cell_len(line) for line in lines) == 72
    row = line_with(lines, "al-20261207T1701-a1b2c3-with-a-long-suffix")
    assert "ana.lopez@relief.example.org" not in row and "ana.lopez" in row
    assert "x" * (MIN_TEXT - 1) + "…" in row


def test_wide_shows_every_column_with_its_full_header_and_value() -> None:
    lines = render(letters(wide=True), 200)
    header = line_with(lines, "tweet text")
    for name in ("id", "label", "source", "tweet text", "confidence"):
        assert name in header
    assert "tweets 0:1234" in "\n".join(lines)
    assert "#rescue" in "\n".join(lines), "nothing is cut"


def test_a_row_needs_a_cell_for_every_column() -> None:
    table = ListTable(Column("id"), Column("text", text=True))
    with pytest.raises(ValueError, match="needs 2 cells"):
        table.add_row("only one")


def test_a_key_value_table_keeps_keys_whole_and_wraps_long_values_within_the_width() -> None:
    table = key_value_table(title="summary")
    table.add_row("  labelled infrastructure_and_utilities_damage", "1204")
    table.add_row("the stream", "fell behind: throughput 183/s, last tenth waited 12.3 s on average " * 2)
    lines = render(table)
    assert max(cell_len(line) for line in lines) <= 80
    assert "1204" in line_with(lines, "labelled infrastructure_and_utilities_damage")


def test_short_time_drops_the_year_of_this_year_and_the_time_of_older_years() -> None:
    assert short_time(datetime(2026, 3, 5, 9, 7, tzinfo=UTC), NOW) == "03-05 09:07"
    assert short_time(datetime(2025, 12, 31, 23, 59, tzinfo=UTC), NOW) == "2025-12-31"


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=-5), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=12, seconds=59), "12m"),
        (timedelta(hours=3, minutes=59), "3h"),
        (timedelta(days=40), "40d"),
    ],
)
def test_age_is_one_unit(ago: timedelta, text: str) -> None:
    assert age(NOW - ago, NOW) == text


@pytest.mark.parametrize(("text", "digits", "short"), [("0.8123", 2, "0.81"), ("0.2750", 3, "0.275"), ("", 2, "")])
def test_short_number(text: str, digits: int, short: str) -> None:
    assert short_number(text, digits) == short


def test_short_number_leaves_what_is_not_a_number() -> None:
    assert short_number("n/a") == "n/a"
