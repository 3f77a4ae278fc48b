"""`triage train`: one new `candidate` version end to end; :func:`study_table` shows a quantization study."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tweet_triage.cli.context import cli_context
from tweet_triage.cli.options import policy_option
from tweet_triage.training.cli.data import load_dataset
from tweet_triage.training.finetune import TrainConfig, quick_profile
from tweet_triage.training.pipeline import PipelineConfig, run_pipeline
from tweet_triage.training.quantization.study import study_config


def train(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="Prepared dataset version, or 'latest'.")] = "latest",
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 3,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1e-2)] = 5e-5,
    batch_size: Annotated[int, typer.Option(min=1, max=512)] = 32,
    max_length: Annotated[int, typer.Option(min=8, max=512)] = 64,
    seed: Annotated[int, typer.Option()] = 42,
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5, help="Cross-entropy label smoothing.")] = 0.0,
    use_keyword: Annotated[bool, typer.Option(help="Prefix the text with the tweet's keyword.")] = True,
    quick: Annotated[bool, typer.Option(help="Quick profile: 2,000 tweets, one epoch (demo, smoke runs).")] = False,
    max_samples: Annotated[
        int | None, typer.Option(min=10, help="Train/evaluate on at most N tweets per split.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimizer steps.")] = None,
    quantization: Annotated[
        str,
        typer.Option(
            help="Quantization candidates to study: 'auto' (the default set; a short one with --quick), 'all', or "
            "names separated by commas (fp32 is always measured as the reference). The rule picks what ships."
        ),
    ] = "auto",
    reason: Annotated[str, typer.Option(help="Why this training runs (recorded on the run).")] = "manual",
    operating_point: Annotated[
        str | None,
        typer.Option(
            callback=lambda v: None if v is None else policy_option(v),
            help="How the decision threshold is chosen on the validation split: f2 (recall weighs twice), f1, or "
            "recall>=R (the best precision with recall >= R). Default: the setting retrain.operating_point (f2).",
        ),
    ] = None,
    keyword_dropout: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Augmentation: drop the keyword with this probability.")
    ] = 0.0,
    augment_noise: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Augmentation: hashtag, typo and case noise, each with this probability."),
    ] = 0.0,
) -> None:
    """Fine-tune, export, quantize, evaluate and register a new `candidate` version."""
    context = cli_context(ctx)
    study = study_config(quantization, quick=quick)
    train_config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
        label_smoothing=label_smoothing,
        use_keyword=use_keyword,
        max_samples=max_samples,
        max_steps=max_steps,
        keyword_dropout=keyword_dropout,
        augment_noise=augment_noise,
    )
    if quick:
        train_config = replace(quick_profile(), seed=seed, use_keyword=use_keyword)
    policy = operating_point or context.settings.retrain.operating_point
    config = PipelineConfig(
        train=train_config, study=study, gate=context.settings.gate, trigger=reason, operating_point=policy
    )
    data = load_dataset(context, dataset)
    result = run_pipeline(
        context.settings, data, config, on_stage=lambda stage: context.console.print(f"[cyan]▶[/] {stage}")
    )
    test = result.test
    context.console.print(
        f"\nregistered [bold]{result.version.name} v{result.version.version}[/] (alias candidate), run {result.run_id}"
    )
    context.console.print(
        f"test at the operating point ({policy}, p >= {test.threshold if test.threshold is not None else 'argmax'}): "
        f"F1 {test.f1:.4f}  F2 {test.f2:.4f}  precision {test.precision:.4f}  recall {test.recall:.4f}  |  "
        f"ROC-AUC {test.roc_auc:.4f}  PR-AUC {test.pr_auc:.4f}  ECE {test.ece:.4f}"
    )
    context.console.print(study_table(result.study))
    for q, inv in result.shipped:
        context.console.print(
            f"{q.graph} vs fp32 on the test split: F1 {q.int8.f1:.4f} vs {q.fp32.f1:.4f}, label agreement "
            f"{q.label_agreement:.4f}; batch invariance max diff {inv.max_difference:.1e}"
        )
    style = "green" if result.gate.passed else "yellow"
    context.console.print(
        Text(f"gate: {'PASSED' if result.gate.passed else 'FAILED'} — {result.gate.summary}", style=style)
    )


def study_table(study: Any) -> Table:
    """The quantization study as a table for the terminal (the same rows as its markdown in the MLflow run)."""
    table = Table(*study.table_header(), title=f"quantization study on {study.cpu.describe()}", title_justify="left")
    chosen = study.selection.chosen if study.selection else None
    for row in study.table_rows():
        table.add_row(*row, style="bold green" if row[0] == chosen else None)
    return table
