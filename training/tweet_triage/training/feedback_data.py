"""Human feedback as training data: a new dataset version = a base version + people's labels, in train only.

Feedback joins the **train** split only; validation and test stay exactly as in the base version, so a retrained
candidate is compared with production on the same test tweets. A feedback tweet whose normalized text is already in
validation or test is left out (it would leak); one already in train gets the person's label (people outrank the
original annotation); labels the base dataset does not know are refused with an error naming them. The result is
content-addressed like any prepared dataset, and its report lists what feedback added, relabelled and left out.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tweet_triage.errors import DataError
from tweet_triage.model.text import normalize_keyword, normalize_tweet
from tweet_triage.training.prepare import DataReport, DroppedRow, Example, PreparedDataset, dataset_version


@dataclass(frozen=True)
class LabelledTweet:
    tweet_id: str
    text: str
    label: str
    keyword: str | None = None


@dataclass(frozen=True)
class FeedbackMerge:
    dataset: PreparedDataset
    added: int
    relabelled: int
    left_out: list[DroppedRow]


def read_feedback_csv(path: Path) -> list[LabelledTweet]:
    """People's labels exported as CSV (a file, or a folder of ``*.csv``): columns ``text``, ``label`` (a label name)
    and optionally ``tweet_id`` and ``keyword``; rows without text or label are skipped."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    labelled = []
    for file in files:
        with file.open(newline="", encoding="utf-8") as handle:
            for row_number, row in enumerate(csv.DictReader(handle), start=2):
                if row.get("text") and row.get("label"):
                    tweet_id = row.get("tweet_id") or f"{file.stem}-{row_number}"
                    labelled.append(LabelledTweet(tweet_id, row["text"], row["label"], row.get("keyword")))
    return labelled


def with_feedback(base: PreparedDataset, feedback: Sequence[LabelledTweet]) -> FeedbackMerge:
    unknown = sorted({f.label for f in feedback} - set(base.labels))
    if unknown:
        raise DataError(f"feedback uses label(s) {', '.join(unknown)} that dataset {base.version} does not have")
    held_out = {e.text.casefold() for name in ("validation", "test") for e in base.splits[name]}
    train = {e.text.casefold(): e for e in base.splits["train"]}
    added = relabelled = 0
    left_out: list[DroppedRow] = []
    for row, item in enumerate(feedback, start=1):
        text = normalize_tweet(item.text)
        key = text.casefold()
        if not text:
            left_out.append(DroppedRow(row, item.tweet_id, "feedback: blank text"))
        elif key in held_out:
            left_out.append(DroppedRow(row, item.tweet_id, "feedback: text is in the validation or test split"))
        elif key in train:
            if train[key].label != item.label:
                train[key] = replace(train[key], label=item.label)
                relabelled += 1
        else:
            train[key] = Example(f"feedback-{item.tweet_id}", text, item.label, normalize_keyword(item.keyword))
            added += 1
    splits = {**base.splits, "train": sorted(train.values(), key=_content_order)}
    counts = {name: dict(sorted(Counter(e.label for e in part).items())) for name, part in splits.items()}
    report = DataReport(
        source=f"{base.report.source} + {len(feedback)} feedback labels",
        source_sha256=base.report.source_sha256,
        rows_read=base.report.rows_read + len(feedback),
        rows_kept=sum(len(part) for part in splits.values()),
        dropped_by_reason={**base.report.dropped_by_reason, **Counter(d.reason for d in left_out)},
        label_counts=counts,
        duplicate_groups=base.report.duplicate_groups,
        conflicting_groups=base.report.conflicting_groups,
        dropped=[*base.report.dropped, *left_out],
    )
    version = dataset_version(splits, base.labels, base.options)
    merged = replace(base, version=version, splits=splits, report=report, path=None)
    return FeedbackMerge(merged, added, relabelled, left_out)


def _content_order(example: Example) -> tuple[str, str]:
    """The order prepare gives every split (by a hash of the text), so no feedback means the same version."""
    return hashlib.sha256(example.text.encode()).hexdigest(), example.id
