"""`triage azure ...`: validate the Azure ML definitions offline; submit, deploy and shift traffic with credentials."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.deploy.azureml.endpoint import TrafficPlan, checked_slot
from tweet_triage.deploy.azureml.environment import build_environment
from tweet_triage.deploy.azureml.jobs import build_weekly_schedule, submit_retrain
from tweet_triage.deploy.azureml.rollout import deploy_slot
from tweet_triage.deploy.azureml.rollout import promote_slot as promote
from tweet_triage.deploy.azureml.source import SourceTree
from tweet_triage.deploy.azureml.stages import app as stage_app
from tweet_triage.deploy.azureml.validate import validate_all
from tweet_triage.deploy.azureml.workspace import ml_client
from tweet_triage.deploy.github import approver_of
from tweet_triage.deploy.infra import check_infra
from tweet_triage.errors import CloudError, UsageError
from tweet_triage.model.approval_gate import gate_for
from tweet_triage.model.registry import CANDIDATE, PRODUCTION, Registry

app = typer.Typer(help="Azure ML: validate definitions offline, retrain, deploy blue/green.", no_args_is_help=True)
app.add_typer(stage_app, name="stage")


def _quiet_sdk() -> None:
    """azure-ai-ml logs experimental-class notices and anonymous-asset warnings for every definition it builds,
    through a handler it installs at import: import it, then raise the level."""
    try:
        import azure.ai.ml  # noqa: F401
    except ImportError:
        raise CloudError("azure-ai-ml is not installed: pip install 'tweet-triage[azure]'") from None
    for name in ("azure", "azure.ai.ml", "azure.identity"):
        logging.getLogger(name).setLevel(logging.ERROR)


@app.command("validate")
def validate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder for the YAML definitions.")] = Path(".triage/azureml"),
) -> None:
    """Build every definition offline, validate it, write it as YAML and load it back. No credentials needed."""
    _quiet_sdk()
    context = cli_context(ctx)
    report = validate_all(context.settings, out)
    for path in report.written:
        context.console.print(f"wrote {path}")
    if not report.ok:
        raise UsageError("Azure ML definitions are invalid:\n  " + "\n  ".join(report.problems))
    context.console.print(f"[green]{len(report.written)} definitions valid[/] (built, validated, round-tripped)")


@app.command("validate-infra")
def validate_infra(ctx: typer.Context) -> None:
    """Check the Bicep in deploy/infra offline: syntax, modules, parameter files, agreement with the code."""
    context = cli_context(ctx)
    report = check_infra()
    if not report.ok:
        raise UsageError("infrastructure definitions are invalid:\n  " + "\n  ".join(report.problems))
    context.console.print(f"[green]{len(report.files)} infrastructure files valid[/] (parsed, cross-checked)")


@app.command("submit-retrain")
def submit(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why retrain (recorded on the job and the model).")] = "manual",
) -> None:
    """Submit the retraining pipeline to the workspace; prints the job name. The result is a `candidate` only."""
    _quiet_sdk()
    context = cli_context(ctx)
    name = submit_retrain(context.settings, reason=reason)
    context.console.print(f"submitted pipeline job [bold]{name}[/]")


@app.command("schedule")
def schedule(ctx: typer.Context) -> None:
    """Create or update the weekly retraining schedule in the workspace."""
    _quiet_sdk()
    context = cli_context(ctx)
    client = ml_client(context.settings)
    tree = SourceTree.for_settings(context.settings)
    client.environments.create_or_update(build_environment(tree))
    created = client.schedules.begin_create_or_update(build_weekly_schedule(context.settings, tree=tree)).result()
    context.console.print(f"schedule [bold]{created.name}[/] is active")


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    slot: Annotated[str, typer.Option(help="blue | green: the slot that gets the model.")] = "green",
    traffic: Annotated[
        int,
        typer.Option(min=0, max=100, help="Live traffic % for the slot (0: mirror only); needs an approved version."),
    ] = 10,
    mirror: Annotated[int, typer.Option(min=0, max=50, help="Mirrored traffic % when --traffic is 0.")] = 10,
    model: Annotated[
        str | None,
        typer.Option(help="Model version (default: `production` for live traffic, `candidate` for mirrored)."),
    ] = None,
) -> None:
    """Deploy a model version to a slot of the online endpoint, then give it a share of live (or mirrored) traffic.

    Live traffic only for the approved production version; any other version only mirrored, next to a live slot."""
    _quiet_sdk()
    context = cli_context(ctx)
    target = checked_slot(slot)
    if model is not None and not model.isdigit():
        raise UsageError(f"--model must be a version number, not {model!r}")
    plan = TrafficPlan.canary(target, traffic) if traffic else TrafficPlan.mirrored(target, mirror)
    client = ml_client(context.settings)
    registry, gate = _registry_and_gate(context)
    version = model or registry.get(PRODUCTION if traffic else CANDIDATE).version
    applied = deploy_slot(client, context.settings, slot=target, version=version, plan=plan, gate=gate)
    context.console.print(f"[green]v{version} on {target}[/]: live {applied.live}, mirrored {applied.mirror}")


@app.command("promote-slot")
def promote_slot(
    ctx: typer.Context,
    approver: Annotated[str, typer.Option(help="Who approves the switch (recorded).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    slot: Annotated[str | None, typer.Option(help="Slot to give 100 % (default: the canary slot).")] = None,
) -> None:
    """Shift all live traffic to a slot (the canary by default) and stop mirroring; recorded in the approval log.

    Only a live slot serving the approved production version; to go back to the other slot, roll the model back
    first (`triage model rollback`)."""
    _quiet_sdk()
    context = cli_context(ctx)
    requested = checked_slot(slot) if slot is not None else None
    if not approver.strip() or not reason.strip():
        raise UsageError("--approver and --reason must not be blank: a traffic switch is recorded with who and why")
    client = ml_client(context.settings)
    _, gate = _registry_and_gate(context)
    record = promote(client, context.settings, requested, gate=gate, approver=approver, reason=reason)
    context.console.print(
        f"[green]{record.slot} (v{record.version}) takes all live traffic[/]; recorded as #{record.seq} by "
        f"{record.approver}"
    )


@app.command("approver")
def approver(
    approvals: Annotated[
        str, typer.Argument(help="The run's approvals as JSON (GET .../actions/runs/RUN_ID/approvals), or - for stdin.")
    ],
    environment: Annotated[str, typer.Option(help="The GitHub environment whose reviewers approve.")] = "production",
) -> None:
    """Print who approved a GitHub environment in a workflow run (github:LOGIN), for CD to record as the approver."""
    typer.echo(approver_of(approvals, environment))


def _registry_and_gate(context: CliContext) -> tuple[Any, Any]:
    registry = Registry(context.settings)
    return registry, gate_for(registry)
