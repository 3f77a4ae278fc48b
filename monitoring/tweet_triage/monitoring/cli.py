"""`triage monitor`, `triage alerts list | show | ack`, `triage retrain [--reason TEXT] | run REQUEST`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.cli.tables import Column, ListTable, WideOption, age
from tweet_triage.clock import utc_now
from tweet_triage.errors import UsageError
from tweet_triage.model.registry import PRODUCTION, Registry
from tweet_triage.monitoring.alerts.center import alert_center
from tweet_triage.monitoring.alerts.records import ALERT_KINDS, Alert
from tweet_triage.monitoring.alerts.store import AlertStore
from tweet_triage.monitoring.retrain.backends import backend_for
from tweet_triage.monitoring.retrain.local_job import run_local_retrain
from tweet_triage.monitoring.retrain.policy import RetrainPolicy, RetrainTrigger, TriggerKind
from tweet_triage.monitoring.retrain.request import RetrainRequest
from tweet_triage.monitoring.retrain.service import RetrainService, record
from tweet_triage.monitoring.worker import MonitorOptions, run_monitor
from tweet_triage.settings import Settings

alerts_app = typer.Typer(help="On-call alerts: drift, accuracy, retraining and approvals.", no_args_is_help=True)
retrain_app = typer.Typer(
    help="Request a retraining (policy-checked), or run a recorded request.", invoke_without_command=True
)

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def monitor(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Most scored events per detector batch.")] = 256,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions for topics the monitor creates.")] = 2,
) -> None:
    """Watch the scored stream for drift and the feedback stream for accuracy; alert and trigger retraining."""
    context = cli_context(ctx)
    options = MonitorOptions(batch_size=batch_size, web_host=context.settings.stack.host, partitions=partitions)
    run_monitor(context.settings, options)


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, acked or all.")] = "open",
    kind: Annotated[str | None, typer.Option(help="drift, accuracy, retrain, approval or unapproved.")] = None,
    n: Annotated[int, typer.Option("-n", "--limit", min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    wide: WideOption = False,
) -> None:
    """Recent alerts, newest first (open ones by default)."""
    if status not in ("open", "acked", "all"):
        raise UsageError(f"--status must be open, acked or all, not {status!r}")
    if kind is not None and kind not in ALERT_KINDS:
        raise UsageError(f"--kind must be one of {', '.join(ALERT_KINDS)}, not {kind!r}")
    context = cli_context(ctx)
    with AlertStore.open(context.settings) as store:
        alerts = store.recent(
            status=None if status == "all" else status,  # type: ignore[arg-type]
            kind=kind,
            limit=n,
        )
    if as_json:
        for alert in alerts:
            context.emit(json.dumps(alert.to_item()))
        return
    if not alerts:
        context.console.print(f"no {'' if status == 'all' else status + ' '}alerts")
        return
    context.console.print(alerts_table(alerts, wide=wide, now=utc_now(), with_status=status != "open"))


def alerts_table(alerts: Sequence[Alert], *, wide: bool, now: datetime, with_status: bool = True) -> ListTable:
    """The rows of `triage alerts list`. The compact table gives the age instead of the time and leaves out the
    model, the repeat count and (``with_status`` False: only open alerts are listed) the status."""
    table = ListTable(
        Column("id"),
        Column("age", "created (UTC)"),
        Column("severity"),
        Column("kind"),
        Column("model", compact=False),
        Column("seen", compact=False),
        Column("status", compact=with_status),
        Column("title", text=True),
        wide=wide,
    )
    for alert in alerts:
        table.add_row(
            alert.id,
            alert.created_at.strftime("%Y-%m-%d %H:%M") if wide else age(alert.created_at, now),
            Text(alert.severity, style=_SEVERITY_STYLE.get(alert.severity, "")),
            alert.kind,
            f"v{alert.model_version}" if alert.model_version else "-",
            f"{alert.occurrences}×",
            alert.status + (f" by {escape(alert.acked_by)}" if alert.acked_by and wide else ""),
            escape(alert.title),
        )
    return table


@alerts_app.command("show")
def show_alert(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Everything about one alert: what it means, the evidence, delivery."""
    context = cli_context(ctx)
    with AlertStore.open(context.settings) as store:
        alert = store.get(alert_id)
    if as_json:
        context.emit(json.dumps(alert.to_item(), indent=2))
        return
    out = context.console
    out.print(Text(f"[{alert.severity.upper()}] {alert.title}", style=_SEVERITY_STYLE.get(alert.severity, "")))
    out.print(alert.summary, markup=False, highlight=False)
    out.print(
        f"\nid {alert.id} · kind {alert.kind} · model v{alert.model_version or '-'} · status {alert.status}"
        + (f" (acked by {alert.acked_by} at {alert.acked_at:%Y-%m-%d %H:%M} UTC)" if alert.acked_at else ""),
        highlight=False,
    )
    out.print(
        f"first {alert.created_at:%Y-%m-%d %H:%M:%S} UTC · last {alert.last_seen_at:%Y-%m-%d %H:%M:%S} UTC · "
        f"{alert.occurrences} occurrence(s) · webhook {alert.delivery.status}"
        + (f" ({alert.delivery.last_error})" if alert.delivery.last_error else ""),
        highlight=False,
    )
    if alert.evidence:
        table = Table("at (UTC)", "source", "statistic", "threshold", "window", "tweets seen")
        for item in alert.evidence:
            table.add_row(
                f"{item.at:%H:%M:%S}",
                item.source,
                f"{item.statistic:.4g}",
                f"{item.threshold:.4g}",
                str(item.window),
                str(item.observed or "-"),
            )
        out.print(table)
    if alert.details:
        context.emit(json.dumps(alert.details, indent=2))


@alerts_app.command("ack")
def ack_alert(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--by", help="Who takes it (recorded on the alert).")],
) -> None:
    """Acknowledge an alert: on-call has it. Repeats within the cooldown stay on this alert."""
    if not by.strip():
        raise UsageError("--by needs a name")
    context = cli_context(ctx)
    with AlertStore.open(context.settings) as store:
        alert = store.ack(alert_id, by=by.strip(), at=utc_now())
    context.console.print(f"{alert.id} acknowledged by {alert.acked_by}", highlight=False)


@retrain_app.callback()
def retrain(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Why (recorded with the request and on the MLflow run).")] = None,
    by: Annotated[str, typer.Option("--by", help="Who asks.")] = "cli",
    force: Annotated[bool, typer.Option(help="Skip the policy's limits (still recorded as forced).")] = False,
    detach: Annotated[bool, typer.Option(help="Local backend: start it in the background and return.")] = False,
) -> None:
    """Request a retraining now. The policy may refuse (it says why); the result is a candidate, never production."""
    if ctx.invoked_subcommand is not None:
        return
    if not reason or not reason.strip():
        raise UsageError("--reason is required: say why this retraining runs (it is recorded)")
    context = cli_context(ctx)
    settings = context.settings
    run_here = settings.retrain.backend == "local" and not detach
    with AlertStore.open(settings, create=True) as store:
        center = alert_center(settings, store)
        backend = _InProcess() if run_here else backend_for(settings)
        service = RetrainService(RetrainPolicy(settings.retrain), store, center, backend)
        trigger = RetrainTrigger(TriggerKind.MANUAL, reason.strip(), by, force=force)
        outcome = service.request(trigger, model_version=_production_version(settings))
        if outcome.alert is None:
            raise UsageError(f"retraining refused by the policy: {outcome.decision.reason} (use --force to override)")
        context.console.print(
            f"retraining request {outcome.alert.id} recorded ({outcome.decision.reason}); "
            f"{RetrainRequest.from_alert(outcome.alert).job}",
            highlight=False,
        )
        if run_here:
            _run_request(context, outcome.alert.id)


@retrain_app.command("run")
def run_request(ctx: typer.Context, request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID")]) -> None:
    """Run a recorded retraining request here (what the local backend starts in the background)."""
    _run_request(cli_context(ctx), request_id)


class _InProcess:
    name = "local"

    def start(self, alert_id: str, request: RetrainRequest) -> str:
        return "running in this process"


def _run_request(context: CliContext, request_id: str) -> None:
    settings = context.settings
    with AlertStore.open(settings, create=True) as store:
        alert = store.get(request_id)
        if alert.kind != "retrain":
            raise UsageError(f"{request_id} is a {alert.kind} alert, not a retraining request")
        request = RetrainRequest.from_alert(alert).running()
        alert = record(store, alert, request)
        try:
            result = run_local_retrain(
                settings,
                alert.id,
                request,
                alert_center(settings, store),
                on_stage=lambda stage: context.console.print(f"[cyan]▶[/] {stage}"),
            )
        except BaseException as exc:
            record(store, alert, request.failed(exc))
            raise
        record(store, alert, request.succeeded(result.candidate_version, str(result.report_path)))
    context.console.print(
        f"candidate v{result.candidate_version} registered; gate {'PASSED' if result.gate_passed else 'FAILED'} "
        f"against production v{result.production_version or '-'}; comparison: {result.report_path}\n"
        f"production is unchanged. Promote with `triage model promote {result.candidate_version} --approver NAME "
        "--reason TEXT` after reading the comparison.",
        highlight=False,
    )


def _production_version(settings: Settings) -> str | None:
    found = Registry(settings).find(PRODUCTION)
    return found.version if found else None
