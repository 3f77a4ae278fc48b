"""The review queue's label efficiency: F1 against labels used, labels chosen by the queue vs at random.

    python benchmarks/bench_review.py [--seeds 1,2,3,4,5] [--start 200] [--dataset latest]

A simulation on the prepared dataset (see :mod:`tweet_triage.training.active_learning` for the method and the
learner): a model starts from ``--start`` random labels of the training split, then 100, 200 and 400 more are added
in rounds of 50, chosen by the review queue's rule or at random, and the model is retrained after each round. F1 and
F2 are measured on the test split at the operating point chosen on validation. Random draws continue to 1,600 labels
so that "how many random labels reach the queue's F1" can be read off its curve: that ratio is the labels saved.
Prints the CPU, a table of mean ± sd over the seeds and the ratios; writes a plot (``--plot``) and JSON beside it.
The base encoder's embeddings are cached per dataset version under ``.triage/recipes/<version>/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from tweet_triage.model.hardware import cpu_info
from tweet_triage.model.operating_point import Policy
from tweet_triage.settings import load_settings
from tweet_triage.stream.stories import story_id
from tweet_triage.training.active_learning import (
    CurvePoint,
    Matrix,
    Pool,
    Split,
    Strategy,
    embed,
    labels_needed,
    simulate,
)
from tweet_triage.training.prepare import Example, load, resolve

QUEUE_BUDGETS = (100, 200, 400)
RANDOM_BUDGETS = (100, 200, 400, 800, 1600)


def embeddings(cache: Path, splits: dict[str, list[Example]]) -> dict[str, Matrix]:
    path = cache / "embeddings-base.npz"
    if path.exists():
        with np.load(path) as data:
            cached = {name: data[name] for name in data.files}
        if all(len(cached.get(name, [])) == len(examples) for name, examples in splits.items()):
            return cached
    cache.mkdir(parents=True, exist_ok=True)
    computed = {name: embed([e.text for e in examples]) for name, examples in splits.items()}
    np.savez_compressed(path, **computed)
    return computed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--start", type=int, default=200)
    parser.add_argument("--dataset", default="latest")
    parser.add_argument("--plot", type=Path, default=Path("bench-results/review.png"))
    parser.add_argument(
        "--operating-point", default="f1", help="the policy the learner decides by (default f1: F1 is measured)"
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    try:
        policy = Policy.parse(args.operating_point)
    except ValueError as exc:
        parser.error(str(exc))
    settings = load_settings()
    dataset = load(resolve(settings.data.data_dir / "prepared", args.dataset))
    positive = dataset.positive_label or dataset.labels[-1]
    print(f"CPU: {cpu_info().describe()}")
    print(f"dataset {dataset.version}: " + ", ".join(f"{k} {len(v)}" for k, v in dataset.splits.items()))
    started = time.perf_counter()
    vectors = embeddings(Path(".triage/recipes") / dataset.version, dataset.splits)
    print(f"embeddings ready in {time.perf_counter() - started:.1f} s")

    def split(name: str) -> Split:
        return Split(vectors[name], np.array([e.label == positive for e in dataset.splits[name]]))

    train = split("train")
    pool = Pool(train.x, train.y, [story_id(e.text) for e in dataset.splits["train"]])
    validation, test = split("validation"), split("test")
    points: list[CurvePoint] = []
    started = time.perf_counter()
    for seed in seeds:
        plans: tuple[tuple[Strategy, tuple[int, ...]], ...] = (("queue", QUEUE_BUDGETS), ("random", RANDOM_BUDGETS))
        for strategy, budgets in plans:
            points += simulate(
                pool, validation, test, strategy=strategy, start=args.start, budgets=budgets, seed=seed, policy=policy
            )
    print(f"{len(seeds)} seeds simulated in {time.perf_counter() - started:.1f} s\n")

    by: dict[tuple[str, int], list[CurvePoint]] = defaultdict(list)
    for point in points:
        by[(point.strategy, point.labels)].append(point)

    def mean_sd(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f}"

    print(
        f"Test split, operating point chosen on validation; {args.start} starting labels;",
        f"mean ± sd over {len(seeds)} seeds",
    )
    print("| labels added | strategy | F1 | F2 | PR-AUC |\n|---|---|---|---|---|")
    for (name, labels), group in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"| {labels} | {name} | {mean_sd([p.f1 for p in group])} | {mean_sd([p.f2 for p in group])} | "
            f"{mean_sd([p.pr_auc for p in group])} |"
        )
    saved = {metric: labels_saved(by, metric) for metric in ("f1", "pr_auc")}
    plot(args.plot, by, args.start)
    args.plot.with_suffix(".json").write_text(
        json.dumps(
            {"cpu": cpu_info().to_dict(), "dataset": dataset.version, "start": args.start, "seeds": seeds,
             "points": [p.__dict__ for p in points], "saved": saved},
            indent=2,
        )
    )  # fmt: skip
    print(f"\nplot: {args.plot}; data: {args.plot.with_suffix('.json')}")


def labels_saved(by: dict[tuple[str, int], list[CurvePoint]], metric: str) -> dict[int, dict[str, float | None]]:
    """For each queue budget: its mean ``metric``, and how many random labels reach it (read off the random curve)."""
    name = {"f1": "F1", "pr_auc": "PR-AUC"}[metric]

    def mean(strategy: str, labels: int) -> float:
        return statistics.mean(float(getattr(p, metric)) for p in by[(strategy, labels)])

    random_curve = [(labels, mean("random", labels)) for labels in (0, *RANDOM_BUDGETS)]
    print(f"\nLabels saved on {name}: random labels needed to reach what the queue reaches")
    saved: dict[int, dict[str, float | None]] = {}
    for labels in QUEUE_BUDGETS:
        target = mean("queue", labels)
        needed = labels_needed(random_curve, target)
        ratio = None if needed is None else needed / labels
        saved[labels] = {"queue": target, "random_labels_needed": needed, "ratio": ratio}
        if needed is None or ratio is None:
            shown = f"more than {RANDOM_BUDGETS[-1]} random labels"
        else:
            shown = f"{needed:.0f} random labels ({ratio:.1f}x as many)"
        print(f"  queue with {labels} labels: {name} {target:.3f}; random needs {shown}")
    return saved


def plot(path: Path, by: dict[tuple[str, int], list[CurvePoint]], start: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = (("queue", "#dc2626", "review queue (closest to a coin toss first)"), ("random", "#64748b", "random"))
    for ax, metric, title in zip(axes, ("f1", "pr_auc"), ("F1 at the operating point", "PR-AUC"), strict=True):
        for strategy, colour, name in styles:
            labels = sorted(n for s, n in by if s == strategy)
            values = [[float(getattr(p, metric)) for p in by[(strategy, n)]] for n in labels]
            means = np.array([statistics.mean(v) for v in values])
            sds = np.array([statistics.pstdev(v) for v in values])
            ax.plot(labels, means, marker="o", color=colour, label=name)
            ax.fill_between(labels, means - sds, means + sds, color=colour, alpha=0.15)
        ax.set_xscale("symlog", linthresh=100)
        ax.set_xlabel(f"labels added to {start} starting labels")
        ax.set_ylabel(f"test {title}")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.suptitle("Which labels to ask for: review queue vs random (mean ± sd over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
