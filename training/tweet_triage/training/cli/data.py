"""`triage data pull | prepare`; :func:`load_dataset` reads a prepared version for the other commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tweet_triage.cli.context import CliContext, cli_context
from tweet_triage.errors import DataError, UsageError
from tweet_triage.training.datasets import get_spec, pull, raw_dir, sha256_of
from tweet_triage.training.prepare import ConflictPolicy, PrepareOptions, load, prepare, resolve, write

data_app = typer.Typer(help="Fetch and prepare labelled datasets.", no_args_is_help=True)


def prepared_root(context: CliContext) -> Path:
    return context.settings.data.data_dir / "prepared"


@data_app.command("pull")
def data_pull(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. disaster-tweets.")],
    mirror: Annotated[
        Path | None, typer.Option(help="Local mirror folder (default: TRIAGE_DATA__MIRROR_DIR); tried before the URL.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if a verified copy exists.")] = False,
) -> None:
    """Fetch a known dataset by URL with a sha256 check, or copy it from a local mirror."""
    context = cli_context(ctx)
    spec = get_spec(name)
    paths = pull(
        spec,
        data_dir=context.settings.data.data_dir,
        mirror_dir=mirror or context.settings.data.mirror_dir,
        force=force,
    )
    for path in paths:
        context.console.print(f"[green]verified[/] {path}")


@data_app.command("prepare")
def data_prepare(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A pulled dataset (default: disaster-tweets).")] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", help="Any labelled CSV instead of a known dataset.")
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Column with the tweet text.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Column with the label.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with a unique id (optional).")] = None,
    keyword_column: Annotated[str | None, typer.Option(help="Optional keyword/context column.")] = None,
    conflicts: Annotated[str, typer.Option(help="Duplicates with conflicting labels: majority | drop.")] = "majority",
    split_seed: Annotated[int, typer.Option(help="Seed of the stratified 70/15/15 split.")] = 0,
) -> None:
    """Validate, clean, deduplicate and split; writes a content-addressed dataset version and its data report."""
    context = cli_context(ctx)
    if conflicts not in ("majority", "drop"):
        raise UsageError(f"--conflicts must be 'majority' or 'drop', not {conflicts!r}")
    policy: ConflictPolicy = "majority" if conflicts == "majority" else "drop"
    if input_file is not None:
        if name is not None:
            raise UsageError("give either a dataset NAME or --input FILE, not both")
        path = input_file
        options = PrepareOptions(
            text_column=text_column or "text",
            label_column=label_column or "label",
            id_column=id_column,
            keyword_column=keyword_column,
            conflict_policy=policy,
            split_seed=split_seed,
        )
    else:
        spec = get_spec(name or "disaster-tweets")
        path = raw_dir(context.settings.data.data_dir, spec.name) / spec.main_file.name
        if not path.exists():
            raise DataError(f"{path} does not exist; run `triage data pull {spec.name}` first")
        columns = {
            "text_column": text_column,
            "label_column": label_column,
            "id_column": id_column,
            "keyword_column": keyword_column,
        }
        given = {key: value for key, value in columns.items() if value}
        options = spec.prepare_options(conflict_policy=policy, split_seed=split_seed, **given)
    dataset = write(prepare(path, options, sha256_of(path)), prepared_root(context))
    report = dataset.report
    context.console.print(f"dataset [bold]{dataset.version}[/] in {dataset.path}")
    context.console.print(
        f"rows read {report.rows_read}, kept {report.rows_kept}, dropped {len(report.dropped)} "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(report.dropped_by_reason.items()))})"
    )
    table = Table("split", *dataset.labels)
    for split, counts in report.label_counts.items():
        table.add_row(split, *(str(counts.get(label, 0)) for label in dataset.labels))
    context.console.print(table)
    context.console.print(f"report: {dataset.path / 'report.md' if dataset.path else ''}")


def load_dataset(context: CliContext, version: str) -> Any:
    return load(resolve(prepared_root(context), version))
