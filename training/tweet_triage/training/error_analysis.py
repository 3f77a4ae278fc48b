"""Where the model is wrong: validation errors at the operating point, grouped by kind and by keyword.

False negatives come first — a missed call for help is the costly error in relief work. Each group lists its count,
its share of the group's tweets, and a few examples with their probability, so a reviewer sees patterns (a keyword
whose disasters are missed, metaphors read as emergencies) rather than a single F1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.model.operating_point import OperatingPoint, decide

EXAMPLES = 3
TOP_KEYWORDS = 15


@dataclass(frozen=True)
class ErrorExample:
    text: str
    keyword: str
    probability: float  # of the positive label


@dataclass
class ErrorGroup:
    kind: str  # "false negative" (missed positive) or "false positive"
    keyword: str  # "" for the group of all keywords
    errors: int
    tweets: int  # tweets of the true class in this group
    examples: list[ErrorExample] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.errors / self.tweets if self.tweets else 0.0


@dataclass(frozen=True)
class ErrorAnalysis:
    positive_label: str
    threshold: float | None
    groups: list[ErrorGroup]

    def to_dict(self) -> dict[str, Any]:
        return {
            "positive_label": self.positive_label,
            "threshold": self.threshold,
            "groups": [{**asdict(g), "rate": g.rate} for g in self.groups],
        }

    def to_markdown(self) -> str:
        threshold = "most probable label" if self.threshold is None else f"threshold {self.threshold:.3f}"
        lines = [f"# Validation errors at the operating point ({threshold})", ""]
        for kind in ("false negative", "false positive"):
            groups = [g for g in self.groups if g.kind == kind]
            if not groups:
                continue
            total = groups[0]
            lines += [
                f"## {kind}s: {total.errors} of {total.tweets} ({total.rate:.1%})",
                "",
                "| keyword | errors | of | rate | examples (p) |",
                "|---|---|---|---|---|",
            ]
            for g in groups[1:]:
                shown = "<br>".join(f"{_cell(e.text)} ({e.probability:.2f})" for e in g.examples)
                lines.append(f"| {g.keyword or '(none)'} | {g.errors} | {g.tweets} | {g.rate:.0%} | {shown} |")
            lines.append("")
        return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:140]


def analyse(
    probabilities: npt.NDArray[np.floating[Any]],
    texts: Sequence[str],
    keywords: Sequence[str | None],
    truth: Sequence[str],
    labels: list[str],
    positive_label: str,
    point: OperatingPoint | None,
) -> ErrorAnalysis:
    pos = labels.index(positive_label)
    predicted = decide(probabilities, labels, point) == pos
    actual = np.array([t == positive_label for t in truth])
    groups: list[ErrorGroup] = []
    for kind, wanted, wrong in (("false negative", True, ~predicted), ("false positive", False, predicted)):
        members = np.flatnonzero(actual == wanted)
        errors = [int(i) for i in members if wrong[i]]
        # the most confidently wrong first: a missed positive with the lowest p, a false alarm with the highest
        errors.sort(key=lambda i: probabilities[i, pos] * (1 if wanted else -1))
        groups.append(ErrorGroup(kind, "", len(errors), len(members)))
        by_keyword: dict[str, list[int]] = defaultdict(list)
        size: dict[str, int] = defaultdict(int)
        for i in members:
            size[keywords[i] or ""] += 1
        for i in errors:
            by_keyword[keywords[i] or ""].append(i)
        ranked = sorted(by_keyword.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_KEYWORDS]
        for keyword, rows in ranked:
            examples = [ErrorExample(texts[i], keyword, float(probabilities[i, pos])) for i in rows[:EXAMPLES]]
            groups.append(ErrorGroup(kind, keyword, len(rows), size[keyword], examples))
    return ErrorAnalysis(positive_label, None if point is None else point.threshold, groups)
