"""Training recipes side by side over several seeds: ROC-AUC, PR-AUC and the operating point on the test split.

    python benchmarks/bench_recipes.py [--recipes baseline,augment,distill] [--seeds 1,2,3] [--dataset latest]

Each (recipe, seed) fine-tunes the model (about 7 minutes on 2 cores), scores every split and caches the scores per
dataset version under ``.triage/recipes`` (a rerun or a distillation teacher reuses them). Prints the CPU, then mean
± sd per recipe and each recipe's difference to the first; writes ``study.md`` and ``study.json`` next to the cache
and, with ``--mlflow``, logs them to an MLflow run in the experiment ``<experiment>-recipes``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tweet_triage.model.hardware import cpu_info
from tweet_triage.settings import Settings, load_settings
from tweet_triage.training.prepare import load, resolve
from tweet_triage.training.recipes import RECIPES, run_study, summary_table, to_json_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="baseline,augment,distill", help=f"of {', '.join(RECIPES)}")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--dataset", default="latest")
    parser.add_argument("--mlflow", action="store_true", help="log the table to MLflow (needs the local stack)")
    args = parser.parse_args()
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {unknown}; known: {', '.join(RECIPES)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise SystemExit(f"--seeds takes integers separated by commas, not {args.seeds!r}") from None
    settings = load_settings()
    dataset = load(resolve(settings.data.data_dir / "prepared", args.dataset))
    cache = settings.data.data_dir.parent / "recipes"
    print(f"CPU: {cpu_info().describe()}")
    print(f"dataset {dataset.version}; recipes {', '.join(names)}; seeds {seeds}")
    for name in names:
        print(f"  {name}: {RECIPES[name].note}")
    results = run_study(dataset, names, seeds, cache, on_result=lambda r: print(r, flush=True))
    table = summary_table(results)
    print(table)
    out = cache / dataset.version
    (out / "study.md").write_text(f"CPU: {cpu_info().describe()}\n\n{table}")
    (out / "study.json").write_text(json.dumps(to_json_rows(results), indent=2))
    if args.mlflow:
        _log(settings, dataset.version, names, seeds, out)


def _log(settings: Settings, dataset_version: str, names: list[str], seeds: list[int], out: Path) -> None:
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(f"{settings.mlflow.experiment}-recipes")
    with mlflow.start_run(run_name=f"recipes {dataset_version}"):
        mlflow.set_tags({"dataset.version": dataset_version, "recipes": ",".join(names), "seeds": str(seeds)})
        mlflow.log_artifact(str(out / "study.md"))
        mlflow.log_artifact(str(out / "study.json"))
    print("logged to MLflow")


if __name__ == "__main__":
    main()
