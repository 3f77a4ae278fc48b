"""Tweets from a CSV file, checked completely before anything is sent.

The header names the columns. ``text`` (or ``--text-column``) is required. The id comes from ``--id-column``, else
from an ``id`` column if there is one, else from a stable hash of the row's content and its occurrence number (the
same file always gets the same ids, so publishing it twice upserts the same predictions). Columns named
``created_at``, ``keyword``, ``location``, ``lang``, ``user``, ``source`` and ``event`` are picked up when present;
``created_at`` defaults to the time of publishing. Every problem is reported with its row, line and column.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Final

from pydantic import ValidationError

from tweet_triage.clock import parse_iso8601, utc_now
from tweet_triage.contracts.tweets import OPTIONAL_TEXT_FIELDS, TweetEvent, check_id, check_text
from tweet_triage.errors import DataError, UsageError

log = logging.getLogger(__name__)

DEFAULT_TEXT_COLUMN: Final = "text"
DEFAULT_ID_COLUMN: Final = "id"
CREATED_AT_COLUMN: Final = "created_at"
MAX_PROBLEMS_SHOWN: Final = 5
HASHED_ID_PREFIX: Final = "h"


@dataclass(frozen=True)
class CsvSummary:
    """What validation found: rows to send, where ids come from, ids that repeat (later rows overwrite)."""

    path: Path
    rows: int
    id_column: str | None
    text_column: str
    optional_columns: tuple[str, ...]
    duplicate_ids: int


@dataclass(frozen=True)
class _Row:
    number: int  # 1-based data row
    line: int  # physical line where the row ends
    values: dict[str, str]
    problem: str | None = None


class CsvTweetSource:
    """Reads a tweets CSV twice: :meth:`validate` checks every row to be sent, :meth:`events` yields them."""

    def __init__(
        self,
        path: Path,
        *,
        text_column: str = DEFAULT_TEXT_COLUMN,
        id_column: str | None = None,
        limit: int | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise UsageError("--limit must be at least 1")
        self.path = path
        self.text_column = text_column
        self.requested_id_column = id_column
        self.limit = limit

    def validate(self) -> CsvSummary:
        """Check every row that would be sent; raise UsageError naming the rows and columns at fault."""
        header = self._header()
        id_column = self._id_column(header)
        problems: list[str] = []
        problem_count = 0
        rows = 0
        ids: Counter[str] = Counter()
        for row, result in self._convert(header, id_column, utc_now):
            if isinstance(result, str):
                problem_count += 1
                if len(problems) < MAX_PROBLEMS_SHOWN:
                    problems.append(f"row {row.number} (line {row.line}): {result}")
                continue
            rows += 1
            ids[result.id] += 1
        if problem_count:
            more = f"\n  ... and {problem_count - len(problems)} more" if problem_count > len(problems) else ""
            raise UsageError(
                f"{self.path}: {problem_count} row(s) cannot be sent, so nothing was sent:\n  "
                + "\n  ".join(problems)
                + more
            )
        if rows == 0:
            raise UsageError(f"{self.path} has a header but no tweets")
        duplicates = sum(count - 1 for count in ids.values())
        if duplicates:
            log.warning(
                "%s: %d row(s) repeat an earlier id; the later row overwrites the earlier one", self.path, duplicates
            )
        optional = tuple(name for name in (CREATED_AT_COLUMN, *OPTIONAL_TEXT_FIELDS) if name in header)
        return CsvSummary(self.path, rows, id_column, self.text_column, optional, duplicates)

    def events(self, *, now: Callable[[], datetime] = utc_now) -> Iterator[TweetEvent]:
        """The tweets, in file order (call :meth:`validate` first)."""
        header = self._header()
        for row, result in self._convert(header, self._id_column(header), now):
            if isinstance(result, str):
                raise DataError(f"{self.path} changed while publishing: row {row.number} (line {row.line}): {result}")
            yield result

    # ---- reading ----------------------------------------------------------------------------------------------

    def _header(self) -> list[str]:
        for _, header in self._records():
            return header
        raise UsageError(f"{self.path} is empty: expected a CSV header with a {self.text_column!r} column")

    def _id_column(self, header: list[str]) -> str | None:
        if self.text_column not in header:
            raise UsageError(
                f"{self.path} has no column {self.text_column!r} (columns: {', '.join(header) or 'none'}); "
                "choose the tweet text column with --text-column"
            )
        if self.requested_id_column is not None:
            if self.requested_id_column not in header:
                raise UsageError(
                    f"{self.path} has no column {self.requested_id_column!r} (columns: {', '.join(header)}); "
                    "fix --id-column, or leave it out to use an 'id' column or hashed ids"
                )
            return self.requested_id_column
        return DEFAULT_ID_COLUMN if DEFAULT_ID_COLUMN in header else None

    def _convert(
        self, header: list[str], id_column: str | None, now: Callable[[], datetime]
    ) -> Iterator[tuple[_Row, TweetEvent | str]]:
        seen: Counter[str] = Counter()
        for row in self._rows(header):
            if self.limit is not None and row.number > self.limit:
                return
            yield row, row.problem or self._to_event(row, id_column, seen, now)

    def _to_event(
        self, row: _Row, id_column: str | None, seen: Counter[str], now: Callable[[], datetime]
    ) -> TweetEvent | str:
        values = row.values
        text = values[self.text_column]
        text_problem = check_text(text)
        if text_problem:
            return f"column {self.text_column!r}: {text_problem[1]}"
        if id_column is not None:
            tweet_id = values[id_column].strip()
            id_problem = check_id(tweet_id)
            if id_problem:
                return f"column {id_column!r}: {id_problem}"
        else:
            tweet_id = _hashed_id(values, self.text_column, seen)
        created_at = now()
        if values.get(CREATED_AT_COLUMN, "").strip():
            try:
                created_at = parse_iso8601(values[CREATED_AT_COLUMN])
            except ValueError as exc:
                return f"column {CREATED_AT_COLUMN!r}: {exc}"
        optional = {name: values[name] for name in OPTIONAL_TEXT_FIELDS if values.get(name, "").strip()}
        try:
            return TweetEvent(id=tweet_id, text=text, created_at=created_at, **optional)
        except ValidationError as exc:
            return f"invalid tweet: {exc.errors()[0]['msg']}"

    def _rows(self, header: list[str]) -> Iterator[_Row]:
        records = self._records()
        next(records)  # the header
        number = 0
        for line, fields in records:
            if not fields:  # a blank line
                continue
            number += 1
            if len(fields) != len(header):
                problem = f"{len(fields)} field(s), but the header has {len(header)}"
                yield _Row(number, line, {}, problem)
                continue
            yield _Row(number, line, dict(zip(header, fields, strict=True)))

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(line number where the record ends, fields) for each CSV record, the header included."""
        try:
            with self.path.open("rb") as handle:
                reader = csv.reader(self._lines(handle))
                try:
                    for fields in reader:
                        yield reader.line_num, fields
                except csv.Error as exc:
                    raise UsageError(f"{self.path}: line {reader.line_num} is not valid CSV: {exc}") from None
        except FileNotFoundError:
            raise UsageError(f"{self.path} does not exist") from None
        except IsADirectoryError:
            raise UsageError(f"{self.path} is a folder, not a CSV file") from None
        except PermissionError:
            raise UsageError(f"{self.path} cannot be read (permission denied)") from None

    def _lines(self, handle: BinaryIO) -> Iterator[str]:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(
                    f"{self.path}: line {number} is not UTF-8 (byte 0x{raw[exc.start]:02x} at position "
                    f"{exc.start + 1}); save the file as UTF-8"
                ) from None


def _hashed_id(values: dict[str, str], text_column: str, seen: Counter[str]) -> str:
    content = "\x1f".join((values[text_column], values.get("keyword", ""), values.get("location", "")))
    seen[content] += 1
    digest = hashlib.sha256(f"{content}\x1e{seen[content]}".encode()).hexdigest()
    return f"{HASHED_ID_PREFIX}{digest[:24]}"
