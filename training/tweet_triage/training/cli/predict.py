"""`triage predict`: score tweets given as arguments or a CSV with a registered version, as JSON lines."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tweet_triage.cli.context import cli_context
from tweet_triage.errors import UsageError
from tweet_triage.model.predictor import Predictor
from tweet_triage.training.cli.model import open_registry


def predict(
    ctx: typer.Context,
    texts: Annotated[list[str] | None, typer.Argument(help="Tweets to score.")] = None,
    model: Annotated[str, typer.Option(help="Version number or alias.")] = "production",
    input_file: Annotated[Path | None, typer.Option("--input", help="CSV of tweets to score.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --input.")] = "text",
    output: Annotated[Path | None, typer.Option(help="Write JSON lines here instead of stdout.")] = None,
) -> None:
    """Print label, confidence, per-class probabilities and model version, one JSON object per tweet."""
    context = cli_context(ctx)
    rows = _predict_rows(texts, input_file, text_column)
    registry = open_registry(context)
    version = registry.get(model)
    predictor = Predictor(registry.download(version), version=version.version)
    results = predictor.predict([r["text"] for r in rows], [r.get("keyword") for r in rows])
    lines = [
        json.dumps({**{k: v for k, v in r.items() if k in ("id", "text")}, **p.to_dict()}, ensure_ascii=False)
        for r, p in zip(rows, results, strict=True)
    ]
    if output is not None:
        output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        context.err.print(f"wrote {len(lines)} predictions to {output}")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def _predict_rows(texts: list[str] | None, input_file: Path | None, text_column: str) -> list[dict[str, str]]:
    if texts and input_file:
        raise UsageError("give tweets as arguments or --input FILE, not both")
    if texts:
        if any(not t.strip() for t in texts):
            raise UsageError("a tweet to score must not be blank")
        return [{"text": t} for t in texts]
    if input_file is None:
        raise UsageError("nothing to score: give tweets as arguments or --input FILE.csv")
    try:
        with input_file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if text_column not in (reader.fieldnames or []):
                raise UsageError(
                    f"{input_file}: no column {text_column!r}; it has: {', '.join(reader.fieldnames or [])}"
                )
            rows = [{k: v or "" for k, v in row.items() if k is not None} for row in reader]
    except OSError as exc:
        raise UsageError(f"{input_file}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{input_file}: not UTF-8") from None
    blank = [i for i, row in enumerate(rows, start=1) if not row[text_column].strip()]
    if blank:
        raise UsageError(f"{input_file}: row {blank[0]} has a blank {text_column!r}")
    return [{**row, "text": row[text_column]} for row in rows]
