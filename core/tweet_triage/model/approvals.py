"""The approval log: who moved which version into production, when, why, and what it replaced. Append-only.

MLflow keeps no history of aliases, so every promotion and rollback is also written as one run in a dedicated
experiment of the same tracking server. Runs are only ever created, never updated; `history()` reads them back in
order. Auditors can browse the same records in the MLflow UI.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


class Action(StrEnum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    BOOTSTRAP = "bootstrap"


@dataclass(frozen=True)
class ApprovalRecord:
    action: Action
    model: str
    version: str
    replaced_version: str | None
    approver: str
    reason: str
    gate_passed: bool
    override_reason: str | None
    at: float  # unix seconds

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["action"] = self.action.value
        data["at_iso"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))
        return data


class ApprovalLog:
    def __init__(self, client: MlflowClient, model_name: str) -> None:
        self._client = client
        self._model = model_name
        self._experiment_name = f"{model_name}-approvals"

    def _experiment_id(self) -> str:
        found = self._client.get_experiment_by_name(self._experiment_name)
        if found is not None:
            return str(found.experiment_id)
        return str(self._client.create_experiment(self._experiment_name, tags={"purpose": "approval log"}))

    def append(self, record: ApprovalRecord) -> None:
        tags = {f"approval.{k}": "" if v is None else str(v) for k, v in asdict(record).items()}
        tags["approval.action"] = record.action.value
        tags["mlflow.runName"] = f"{record.action.value} v{record.version} by {record.approver}"
        run = self._client.create_run(self._experiment_id(), start_time=int(record.at * 1000), tags=tags)
        self._client.set_terminated(run.info.run_id, end_time=int(record.at * 1000))

    def history(self, version: str | None = None) -> list[ApprovalRecord]:
        """Every record for this model, oldest first (optionally only those about ``version``)."""
        experiment = self._client.get_experiment_by_name(self._experiment_name)
        if experiment is None:
            return []
        records = []
        page_token = None
        while True:
            page = self._client.search_runs(
                [experiment.experiment_id],
                filter_string=f"tags.`approval.model` = '{self._model}'",
                max_results=500,
                page_token=page_token,
            )
            records += [_record(run.data.tags) for run in page]
            page_token = page.token
            if not page_token:
                break
        records.sort(key=lambda r: r.at)
        return [r for r in records if version is None or version in (r.version, r.replaced_version)]


def _record(tags: dict[str, str]) -> ApprovalRecord:
    def opt(key: str) -> str | None:
        return tags.get(f"approval.{key}") or None

    return ApprovalRecord(
        action=Action(tags["approval.action"]),
        model=tags["approval.model"],
        version=tags["approval.version"],
        replaced_version=opt("replaced_version"),
        approver=tags["approval.approver"],
        reason=tags["approval.reason"],
        gate_passed=tags.get("approval.gate_passed") == "True",
        override_reason=opt("override_reason"),
        at=float(tags["approval.at"]),
    )
