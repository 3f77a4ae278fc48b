"""CSV rows to tweet events: every row is checked before anything is sent, problems name row, line and column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tweet_triage.errors import UsageError
from tweet_triage.stream.producer.csv_source import CsvTweetSource

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def csv_file(tmp_path: Path, content: str | bytes, name: str = "tweets.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_the_kaggle_layout_maps_to_events(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "id,keyword,location,text,target\n"
        '1,,,"Our Deeds are the Reason of this #earthquake",1\n'
        '48,ablaze,Birmingham,"@bbcmtd Wholesale markets ablaze\nhttp://t.co/lHYXEOHY6C",1\n',
    )
    source = CsvTweetSource(path)
    summary = source.validate()
    assert (summary.rows, summary.id_column, summary.duplicate_ids) == (2, "id", 0)
    first, second = source.events(now=lambda: NOW)
    assert (first.id, first.keyword, first.location, first.created_at) == ("1", None, None, NOW)
    assert (second.id, second.keyword, second.location) == ("48", "ablaze", "Birmingham")
    assert second.text == "@bbcmtd Wholesale markets ablaze\nhttp://t.co/lHYXEOHY6C"
    assert "target" not in first.extra


def test_without_an_id_column_ids_are_stable_hashes_distinct_for_repeated_rows(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "body,created_at\nhelp,2024-05-01T10:00:00Z\nhelp,\nfire,\n")
    source = CsvTweetSource(path, text_column="body")
    assert source.validate().id_column is None
    ids = [event.id for event in source.events()]
    again = [event.id for event in CsvTweetSource(path, text_column="body").events()]
    assert ids == again and len(set(ids)) == 3
    assert next(iter(source.events())).created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_repeated_ids_are_counted(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "id,text\n1,a\n1,b\n2,c\n")
    assert CsvTweetSource(path).validate().duplicate_ids == 1


def test_limit_only_checks_and_sends_the_first_rows(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "id,text\n1,a\n2,b\n3,\n")
    source = CsvTweetSource(path, limit=2)
    assert source.validate().rows == 2
    assert [event.id for event in source.events()] == ["1", "2"]


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = csv_file(tmp_path, b"\xef\xbb\xbfid,text\n1,hello\n")
    assert CsvTweetSource(path).validate().rows == 1


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("", {}, "is empty"),
        ("id,text\n", {}, "no tweets"),
        ("id,body\n1,a\n", {}, "no column 'text' (columns: id, body); choose the tweet text column with --text-column"),
        ("id,text\n1,a\n", {"id_column": "tweet_id"}, "no column 'tweet_id'"),
        ("id,text\n1,a\n2,\n", {}, "row 2 (line 3): column 'text': text is blank"),
        ("id,text\n1,a\n2,b,extra\n", {}, "row 2 (line 3): 3 field(s), but the header has 2"),
        ("id,text\n1/2,a\n", {}, "row 1 (line 2): column 'id': id contains characters Cosmos DB ids cannot hold"),
        ("id,text\n,a\n", {}, "column 'id': id is blank"),
        ("id,text,created_at\n1,a,last tuesday\n", {}, "row 1 (line 2): column 'created_at'"),
        ("id,text\n1," + "a" * 1001 + "\n", {}, "more than 1000"),
        ('id,text\n1,"multi\nline"\n2,\n', {}, "row 2 (line 4)"),
        ('id,text\n1,"' + "a" * 200_000 + '"\n', {}, "line 2 is not valid CSV: field larger than field limit"),
    ],
)
def test_problems_are_reported_precisely(content: str, options: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        CsvTweetSource(csv_file(tmp_path, content), **options).validate()  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_non_utf8_file_names_the_line_and_byte(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "id,text\n1,ok\n2,café\n".encode("cp1252"))
    with pytest.raises(UsageError, match=r"line 3 is not UTF-8 \(byte 0xe9 at position 6\)"):
        CsvTweetSource(path).validate()


def test_many_problems_are_summarised(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "id,text\n" + "".join(f"{i},\n" for i in range(12)))
    with pytest.raises(UsageError) as caught:
        CsvTweetSource(path).validate()
    assert "12 row(s) cannot be sent, so nothing was sent" in str(caught.value)
    assert "and 7 more" in str(caught.value)


def test_missing_paths_and_folders(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        CsvTweetSource(tmp_path / "nope.csv").validate()
    with pytest.raises(UsageError, match="is a folder"):
        CsvTweetSource(tmp_path).validate()
    with pytest.raises(UsageError, match="--limit"):
        CsvTweetSource(tmp_path, limit=0)
