"""Validate, clean, deduplicate and split a labelled CSV into a content-addressed dataset version.

Any CSV with a text column and a label column works (binary or multi-class); the label set comes from the data.
Schema problems stop with an error naming file, row and column. Content problems drop the row with a reason, and every
dropped row is listed in the data report.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from tweet_triage.errors import DataError
from tweet_triage.model.text import NORMALIZATION_VERSION, normalize_keyword, normalize_tweet

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
LATEST_FILE = "LATEST"
ConflictPolicy = Literal["majority", "drop"]


@dataclass(frozen=True)
class PrepareOptions:
    text_column: str = "text"
    label_column: str = "target"
    id_column: str | None = "id"
    keyword_column: str | None = None
    label_names: dict[str, str] = field(default_factory=dict)
    conflict_policy: ConflictPolicy = "majority"
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    max_text_chars: int = 2000


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    label: str
    keyword: str = ""


@dataclass(frozen=True)
class DroppedRow:
    row: int
    id: str
    reason: str


@dataclass(frozen=True)
class DataReport:
    source: str
    source_sha256: str
    rows_read: int
    rows_kept: int
    dropped_by_reason: dict[str, int]
    label_counts: dict[str, dict[str, int]]
    duplicate_groups: int
    conflicting_groups: int
    dropped: list[DroppedRow]

    def to_markdown(self, version: str) -> str:
        lines = [
            f"# Data report — dataset {version}",
            "",
            f"- source: `{self.source}` (sha256 `{self.source_sha256}`)",
            f"- rows read: {self.rows_read}; kept: {self.rows_kept}; dropped: {len(self.dropped)}",
            f"- duplicate groups (same normalized text): {self.duplicate_groups}; with conflicting labels: "
            f"{self.conflicting_groups}",
            "",
            "| split | " + " | ".join(sorted({k for c in self.label_counts.values() for k in c})) + " |",
        ]
        labels = sorted({k for c in self.label_counts.values() for k in c})
        lines.append("|---" * (len(labels) + 1) + "|")
        for split, counts in self.label_counts.items():
            lines.append(f"| {split} | " + " | ".join(str(counts.get(label, 0)) for label in labels) + " |")
        lines += ["", "## Dropped rows by reason", ""]
        lines += [f"- {reason}: {count}" for reason, count in sorted(self.dropped_by_reason.items())]
        lines += ["", "## Every dropped row", "", "| row | id | reason |", "|---|---|---|"]
        lines += [f"| {d.row} | {d.id} | {d.reason} |" for d in self.dropped]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PreparedDataset:
    version: str
    labels: list[str]
    splits: dict[str, list[Example]]
    report: DataReport
    options: PrepareOptions
    positive_label: str | None = None
    path: Path | None = None


@dataclass(frozen=True)
class _Row:
    row: int
    id: str
    text: str
    label: str
    keyword: str


def read_rows(path: Path, options: PrepareOptions) -> tuple[list[_Row], list[DroppedRow], int]:
    """Read and validate the CSV. Returns usable rows, rows dropped for content, and the number of rows read."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror})") from None
    rows: list[_Row] = []
    dropped: list[DroppedRow] = []
    count = 0
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            _check_columns(path, header, options)
            for count, record in enumerate(reader, start=1):
                parsed = _parse_record(path, count, record, options)
                if isinstance(parsed, DroppedRow):
                    dropped.append(parsed)
                else:
                    rows.append(parsed)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 near byte {exc.start} (row {count + 1}); re-save it as UTF-8") from None
        except csv.Error as exc:
            raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None
    if count == 0:
        raise DataError(f"{path}: no data rows")
    return rows, dropped, count


def _check_columns(path: Path, header: Sequence[str], options: PrepareOptions) -> None:
    needed = [options.text_column, options.label_column]
    needed += [c for c in (options.id_column, options.keyword_column) if c]
    missing = [column for column in needed if column not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"the file has: {', '.join(header) or '(none)'}"
        )


def _parse_record(path: Path, row: int, record: dict[str, str | None], options: PrepareOptions) -> _Row | DroppedRow:
    if None in record:  # more fields than the header has
        raise DataError(f"{path}, row {row}: more fields than the header's {len(record) - 1} columns")
    label = (record.get(options.label_column) or "").strip()
    row_id = (record.get(options.id_column) or "").strip() if options.id_column else ""
    row_id = row_id or f"row-{row}"
    if not label:
        raise DataError(f"{path}, row {row} (id {row_id}), column {options.label_column!r}: empty label")
    raw_text = record.get(options.text_column) or ""
    if len(raw_text) > options.max_text_chars:
        return DroppedRow(row, row_id, f"text longer than {options.max_text_chars} characters")
    text = normalize_tweet(raw_text)
    if not text:
        return DroppedRow(row, row_id, "blank text")
    keyword = normalize_keyword(record.get(options.keyword_column)) if options.keyword_column else ""
    return _Row(row, row_id, text, options.label_names.get(label, label), keyword)


def deduplicate(rows: Iterable[_Row], policy: ConflictPolicy) -> tuple[list[_Row], list[DroppedRow], int, int]:
    """Keep one row per normalized text. Conflicting labels: majority vote (ties dropped) or drop the group."""
    groups: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        groups[row.text.casefold()].append(row)
    kept: list[_Row] = []
    dropped: list[DroppedRow] = []
    duplicate_groups = conflicting_groups = 0
    for members in groups.values():
        first = members[0]
        if len(members) == 1:
            kept.append(first)
            continue
        duplicate_groups += 1
        votes = Counter(member.label for member in members)
        if len(votes) == 1:
            kept.append(first)
            dropped += [DroppedRow(m.row, m.id, f"duplicate of row {first.row}") for m in members[1:]]
            continue
        conflicting_groups += 1
        (top, top_votes), *rest = votes.most_common()
        tally = ", ".join(f"{label}×{n}" for label, n in votes.most_common())
        if policy == "drop" or (rest and rest[0][1] == top_votes):
            why = "tie" if policy == "majority" else "policy drop"
            dropped += [
                DroppedRow(m.row, m.id, f"conflicting labels in duplicate group ({tally}; {why})") for m in members
            ]
            continue
        winner = next(m for m in members if m.label == top)
        kept.append(winner)
        dropped += [
            DroppedRow(m.row, m.id, f"duplicate of row {winner.row} (conflicting labels {tally}; majority {top})")
            for m in members
            if m is not winner
        ]
    return kept, dropped, duplicate_groups, conflicting_groups


def _content_key(row: _Row) -> tuple[str, str]:
    """Order rows by content, never by their position in the file."""
    return hashlib.sha256(row.text.encode()).hexdigest(), row.id


def split(rows: list[_Row], options: PrepareOptions) -> dict[str, list[_Row]]:
    """Deterministic stratified split, independent of the input order (rows are ordered by a hash of their text)."""
    from sklearn.model_selection import train_test_split

    ordered = sorted(rows, key=_content_key)
    labels = [r.label for r in ordered]
    held_out = options.validation_fraction + options.test_fraction
    small = [label for label, n in Counter(labels).items() if n < 3]
    if small:
        raise DataError(f"label(s) {', '.join(small)} have fewer than 3 examples; cannot make a stratified split")
    train, rest = train_test_split(ordered, test_size=held_out, stratify=labels, random_state=options.split_seed)
    validation, test = train_test_split(
        rest,
        test_size=options.test_fraction / held_out,
        stratify=[r.label for r in rest],
        random_state=options.split_seed,
    )
    return {"train": train, "validation": validation, "test": test}


def prepare(path: Path, options: PrepareOptions, source_sha256: str) -> PreparedDataset:
    rows, dropped, rows_read = read_rows(path, options)
    kept, dup_dropped, duplicate_groups, conflicting_groups = deduplicate(rows, options.conflict_policy)
    dropped = sorted(dropped + dup_dropped, key=lambda d: d.row)
    labels = sorted({r.label for r in kept})
    if len(labels) < 2:
        raise DataError(f"{path}, column {options.label_column!r}: need at least 2 labels, found {labels}")
    parts = split(kept, options)
    splits = {
        name: [Example(r.id, r.text, r.label, r.keyword) for r in sorted(part, key=_content_key)]
        for name, part in parts.items()
    }
    report = DataReport(
        source=str(path),
        source_sha256=source_sha256,
        rows_read=rows_read,
        rows_kept=len(kept),
        dropped_by_reason=dict(Counter(_reason_kind(d.reason) for d in dropped)),
        label_counts={name: dict(sorted(Counter(e.label for e in part).items())) for name, part in splits.items()},
        duplicate_groups=duplicate_groups,
        conflicting_groups=conflicting_groups,
        dropped=dropped,
    )
    positive = positive_label(labels, [r.label for r in kept], options.label_names)
    return PreparedDataset(dataset_version(splits, labels, options), labels, splits, report, options, positive)


_POSITIVE_RAW_VALUES = ("1", "true", "yes", "relevant", "positive")


def positive_label(labels: list[str], all_labels: list[str], label_names: dict[str, str]) -> str | None:
    """For binary data, the class F1 is reported for: the one named by a raw value like "1", else the rarer one."""
    if len(labels) != 2:
        return None
    for raw in _POSITIVE_RAW_VALUES:
        for candidate in (label_names.get(raw), raw):
            if candidate in labels:
                return candidate
    counts = Counter(all_labels)
    return min(labels, key=lambda label: (counts[label], label))


def _reason_kind(reason: str) -> str:
    return reason.split(" (", maxsplit=1)[0].split(" of row", maxsplit=1)[0]


def dataset_version(splits: dict[str, list[Example]], labels: list[str], options: PrepareOptions) -> str:
    """A content hash: the same examples in the same splits with the same labels give the same version."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"labels": labels, "normalization": NORMALIZATION_VERSION}, sort_keys=True).encode())
    for name in SPLITS:
        for example in splits[name]:
            digest.update(json.dumps([name, asdict(example)], sort_keys=True, ensure_ascii=False).encode())
    return "ds-" + digest.hexdigest()[:16]


def write(dataset: PreparedDataset, root: Path) -> PreparedDataset:
    """Write splits, labels and report under ``root/VERSION/`` (idempotent: same content, same folder)."""
    target = root / dataset.version
    target.mkdir(parents=True, exist_ok=True)
    for name, examples in dataset.splits.items():
        with (target / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for example in examples:
                handle.write(json.dumps(asdict(example), ensure_ascii=False) + "\n")
    meta = {
        "version": dataset.version,
        "labels": dataset.labels,
        "positive_label": dataset.positive_label,
        "options": asdict(dataset.options),
    }
    (target / "dataset.json").write_text(json.dumps(meta, indent=2))
    (target / "report.json").write_text(json.dumps(asdict(dataset.report), indent=2, ensure_ascii=False))
    (target / "report.md").write_text(dataset.report.to_markdown(dataset.version), encoding="utf-8")
    (root / LATEST_FILE).write_text(dataset.version + "\n")
    return replace(dataset, path=target)


def resolve(root: Path, version: str) -> Path:
    """The folder of a prepared dataset version; ``latest`` is the one prepared most recently."""
    if version == "latest":
        pointer = root / LATEST_FILE
        if not pointer.exists():
            raise DataError("no prepared dataset yet; run `triage data pull disaster-tweets` and `triage data prepare`")
        version = pointer.read_text().strip()
    return root / version


def load(path: Path) -> PreparedDataset:
    """Read a prepared dataset folder back."""
    try:
        meta = json.loads((path / "dataset.json").read_text())
        report_data = json.loads((path / "report.json").read_text())
        splits = {
            name: [
                Example(**json.loads(line))
                for line in (path / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            for name in SPLITS
        }
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{path} is not a prepared dataset ({exc}); run `triage data prepare` first") from None
    report_data["dropped"] = [DroppedRow(**d) for d in report_data["dropped"]]
    options = PrepareOptions(**meta["options"])
    return PreparedDataset(
        meta["version"], meta["labels"], splits, DataReport(**report_data), options, meta["positive_label"], path
    )
