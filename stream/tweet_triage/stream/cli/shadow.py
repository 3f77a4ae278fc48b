"""`triage model compare-shadow VERSION`: the shadow candidate against production, to inform the approval."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tweet_triage.cli.context import cli_context
from tweet_triage.errors import UsageError
from tweet_triage.stream.shadow_report import read_comparison


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def compare_shadow(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="The candidate version a `triage worker --shadow` scored with.")],
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Newest shadow results to compare.")] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Agreement with production on the same tweets, and accuracy of both on human feedback for those tweets."""
    context = cli_context(ctx)
    if not version.isdigit():
        raise UsageError(f"VERSION must be a version number, not {version!r}")
    report = read_comparison(context.settings, version, limit=limit)
    if as_json:
        typer.echo(report.to_json())
        return
    if report.shadow_scored == 0:
        context.console.print(f"no shadow results for v{version} yet; run `triage worker --shadow {version}`")
        return
    table = Table("measure", "value", title=f"shadow v{version} vs production")
    table.add_row("tweets scored in shadow", str(report.shadow_scored))
    table.add_row("also scored by production", f"{report.paired} (versions {', '.join(report.production_versions)})")
    table.add_row("label agreement", f"{_percent(report.agreement)} ({report.agreeing}/{report.paired})")
    for change, count in report.disagreements.items():
        table.add_row(f"  production→candidate {change}", str(count))
    gap = report.mean_abs_confidence_difference
    table.add_row("mean |confidence difference|", "n/a" if gap is None else f"{gap:.3f}")
    fb_c, fb_p = report.candidate_on_feedback, report.production_on_feedback
    table.add_row("labelled by people", str(fb_c.labelled))
    table.add_row("candidate accuracy on feedback", f"{_percent(fb_c.accuracy)} ({fb_c.correct}/{fb_c.labelled})")
    table.add_row("production accuracy on feedback", f"{_percent(fb_p.accuracy)} ({fb_p.correct}/{fb_p.labelled})")
    context.console.print(table)
