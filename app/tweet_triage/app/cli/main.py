"""Entry point of the `triage` command: registers the sub-commands and turns TriageError into clean messages."""

from __future__ import annotations

import logging
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.text import Text

from tweet_triage.api.cli import api as api_command
from tweet_triage.app.cli import demo as demo_cli
from tweet_triage.app.stack.cli import app as stack_app
from tweet_triage.cli.config import app as config_app
from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.dashboard.cli import dashboard as dashboard_command
from tweet_triage.deploy.azureml.cli import app as azure_app
from tweet_triage.errors import TriageError
from tweet_triage.monitoring import cli as monitoring_cli
from tweet_triage.stream.cli import dlq as dlq_cli
from tweet_triage.stream.cli import publish as publish_cli
from tweet_triage.stream.cli import results as results_cli
from tweet_triage.stream.cli import shadow as shadow_cli
from tweet_triage.stream.cli import worker as worker_cli
from tweet_triage.training import cli as training_cli

app = typer.Typer(
    name="triage",
    help="tweet-triage: triage live disaster tweets with a quantized transformer, and keep it honest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_app, name="config")
app.add_typer(stack_app, name="stack")
app.add_typer(training_cli.data_app, name="data")
app.command("train")(training_cli.train)
training_cli.model_app.command("compare-shadow")(shadow_cli.compare_shadow)
app.add_typer(training_cli.model_app, name="model")
app.command("predict")(training_cli.predict)
app.add_typer(training_cli.audit_app, name="audit")
app.command("publish")(publish_cli.publish)
app.add_typer(results_cli.app, name="results")
app.add_typer(dlq_cli.app, name="dlq")
app.command("worker")(worker_cli.worker)
app.command("demo")(demo_cli.demo)
app.add_typer(azure_app, name="azure")
app.command("api")(api_command)
app.command("dashboard")(dashboard_command)
app.command("monitor")(monitoring_cli.monitor)
app.add_typer(monitoring_cli.alerts_app, name="alerts")
app.add_typer(monitoring_cli.retrain_app, name="retrain")


def _version() -> str:
    try:
        return version("tweet-triage")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tweet-triage {_version()}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Set up logging for this command; settings are read from TRIAGE_* variables and .env when first needed."""
    context = cli_context(ctx)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=context.err, show_path=False)],
    )


def main() -> None:
    # MLflow draws a progress bar for every artifact download; the CLI's output is for people and scripts.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    context = CliContext()
    try:
        app(obj=context)
    except TriageError as exc:
        context.err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        context.err.print("interrupted")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
