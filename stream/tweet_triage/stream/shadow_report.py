"""How a shadowed candidate compares with production: label agreement on the same tweets, and accuracy of both on
the tweets people labelled. Plain logic (:func:`compare`) and a thin Cosmos DB read (:func:`read_comparison`).

Production's side is whatever the ``predictions`` container holds for each tweet (it records the version that
scored it, listed in the report); a person's label is their latest one for the tweet (``labelled_at``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tweet_triage.settings import Settings
from tweet_triage.store.cosmos import (
    FEEDBACK,
    PREDICTIONS,
    SHADOW,
    container_specs,
    open_client,
    translate_errors,
)


@dataclass(frozen=True)
class Accuracy:
    labelled: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@dataclass(frozen=True)
class ShadowComparison:
    candidate_version: str
    shadow_scored: int  # tweets the candidate scored
    paired: int  # of those, tweets production also scored
    agreeing: int
    production_versions: list[str]
    disagreements: dict[str, int] = field(default_factory=dict)  # "production->candidate": count
    candidate_on_feedback: Accuracy = Accuracy(0, 0)
    production_on_feedback: Accuracy = Accuracy(0, 0)
    mean_abs_confidence_difference: float | None = None

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.paired if self.paired else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["agreement"] = self.agreement
        data["candidate_on_feedback"]["accuracy"] = self.candidate_on_feedback.accuracy
        data["production_on_feedback"]["accuracy"] = self.production_on_feedback.accuracy
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def latest_labels(feedback: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """tweet id -> the most recent human label (ISO-8601 UTC ``labelled_at`` strings sort in time order)."""
    newest: dict[str, tuple[str, str]] = {}
    for item in feedback:
        tweet_id, label, at = str(item["tweet_id"]), str(item["label"]), str(item.get("labelled_at", ""))
        if tweet_id not in newest or at >= newest[tweet_id][0]:
            newest[tweet_id] = (at, label)
    return {tweet_id: label for tweet_id, (_, label) in newest.items()}


def compare(
    version: str,
    shadow: Iterable[Mapping[str, Any]],
    production: Mapping[str, Mapping[str, Any]],
    feedback: Iterable[Mapping[str, Any]],
) -> ShadowComparison:
    """``shadow``: the candidate's items; ``production``: prediction items by tweet id; ``feedback``: human labels."""
    candidate = {str(item["tweet_id"]): item for item in shadow if str(item["model_version"]) == version}
    truth = latest_labels(feedback)
    paired = [tweet_id for tweet_id in candidate if tweet_id in production]
    agreeing = 0
    disagreements: dict[str, int] = {}
    confidence_gaps: list[float] = []
    for tweet_id in paired:
        ours, theirs = candidate[tweet_id], production[tweet_id]
        confidence_gaps.append(abs(float(ours["confidence"]) - float(theirs["confidence"])))
        if ours["label"] == theirs["label"]:
            agreeing += 1
        else:
            key = f"{theirs['label']}->{ours['label']}"
            disagreements[key] = disagreements.get(key, 0) + 1
    labelled = [t for t in paired if t in truth]  # both models judged on the same labelled tweets
    return ShadowComparison(
        candidate_version=version,
        shadow_scored=len(candidate),
        paired=len(paired),
        agreeing=agreeing,
        production_versions=sorted({str(production[t]["model_version"]) for t in paired}),
        disagreements=dict(sorted(disagreements.items())),
        candidate_on_feedback=Accuracy(len(labelled), sum(candidate[t]["label"] == truth[t] for t in labelled)),
        production_on_feedback=Accuracy(len(labelled), sum(production[t]["label"] == truth[t] for t in labelled)),
        mean_abs_confidence_difference=sum(confidence_gaps) / len(confidence_gaps) if confidence_gaps else None,
    )


def read_comparison(settings: Settings, version: str, *, limit: int = 5000) -> ShadowComparison:
    """Read the candidate's newest ``limit`` shadow items, production's items for the same tweets and all feedback
    (human labels are few; one cross-partition read)."""
    specs = container_specs(settings.cosmos)
    client = open_client(settings)
    try:
        database = client.get_database_client(settings.cosmos.database)
        with translate_errors(settings, container=specs[SHADOW].name):
            shadow = list(
                database.get_container_client(specs[SHADOW].name).query_items(
                    "SELECT TOP @n * FROM c WHERE c.model_version = @v ORDER BY c.order_key DESC",
                    parameters=[{"name": "@n", "value": limit}, {"name": "@v", "value": version}],
                    enable_cross_partition_query=True,
                )
            )
        with translate_errors(settings, container=specs[FEEDBACK].name):
            feedback = list(
                database.get_container_client(specs[FEEDBACK].name).query_items(
                    "SELECT * FROM c", enable_cross_partition_query=True
                )
            )
        predictions = database.get_container_client(specs[PREDICTIONS].name)
        production: dict[str, Mapping[str, Any]] = {}
        with translate_errors(settings, container=specs[PREDICTIONS].name):
            for tweet_id in {str(item["tweet_id"]) for item in shadow}:
                rows = list(
                    predictions.query_items(
                        "SELECT * FROM c WHERE c.id = @id",
                        parameters=[{"name": "@id", "value": tweet_id}],
                        partition_key=tweet_id,
                    )
                )
                if rows:
                    production[tweet_id] = rows[0]
    finally:
        client.close()
    return compare(version, shadow, production, feedback)
