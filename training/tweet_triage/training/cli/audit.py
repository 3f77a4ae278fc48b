"""`triage audit model`: trace one version back to its data, code, metrics, approvals and quantization study."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.model.approvals import ApprovalLog
from tweet_triage.model.package import PackageMeta
from tweet_triage.training.cli.model import open_registry
from tweet_triage.training.packaging import STUDY_FILE

audit_app = typer.Typer(help="Trace a model back to its data, code, metrics and approvals.", no_args_is_help=True)


@audit_app.command("model")
def audit_model(ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version number or alias.")]) -> None:
    """Dataset version and report, training run, git commit, metrics and approvals of one model version."""
    context = cli_context(ctx)
    registry = open_registry(context)
    mv = registry.get(version)
    run = registry.client.get_run(mv.run_id) if mv.run_id else None
    package = registry.download(mv)
    meta = PackageMeta.read(package)
    report: dict[str, Any] = {
        "model": mv.name,
        "version": mv.version,
        "aliases": list(mv.aliases),
        "dataset_version": mv.tags.get("dataset.version"),
        "git_commit": mv.tags.get("git.commit"),
        "training_run": mv.run_id,
        "gate": {"passed": mv.gate_passed, "summary": mv.gate.summary if mv.gate else None},
        "operating_point": meta.operating_point,
        "languages": meta.languages,
        "metrics": dict(sorted(run.data.metrics.items())) if run else {},
        "params": dict(sorted(run.data.params.items())) if run else {},
        "approvals": [r.to_dict() for r in ApprovalLog.beside(registry).history(mv.version)],
        "quantization": quantization_audit(package),
    }
    if run is not None:
        try:
            report["data_report"] = _load_json_artifact(registry, run.info.run_id, "data/report.json")
        except Exception:
            report["data_report"] = None
    context.console.print_json(json.dumps(report, default=str))


def quantization_audit(package: Path) -> dict[str, Any]:
    """What the package says about its graphs: the chosen and shipped ones, the CPU they were measured on, the rule
    and the study's table (every candidate with its speed, accuracy against fp32, invariance and verdict)."""
    meta = PackageMeta.read(package)
    audit: dict[str, Any] = {
        "graphs": [{"name": g.name, "portable": g.portable, "scheme": g.scheme, **g.evaluation} for g in meta.graphs],
        "built_on": meta.built_on,
    }
    study_file = package / STUDY_FILE
    if study_file.exists():
        study = json.loads(study_file.read_text(encoding="utf-8"))
        audit.update(
            chosen=(study.get("selection") or {}).get("chosen"),
            shipped=(study.get("selection") or {}).get("shipped"),
            rule=study.get("rule"),
            study=study.get("measurements"),
            not_eligible=(study.get("selection") or {}).get("reasons"),
        )
    return audit


def _load_json_artifact(registry: Any, run_id: str, path: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        local = registry.client.download_artifacts(run_id, path, tmp)
        data: dict[str, Any] = json.loads(Path(local).read_text())
    data["dropped_rows"] = len(data.pop("dropped", []))
    return data
