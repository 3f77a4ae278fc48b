"""Training recipes compared across seeds: does a change raise the ranking (ROC-AUC, PR-AUC), or was it one lucky seed?

Each (recipe, seed) fine-tunes the torch model, keeps its validation-best epoch, and scores the validation, test and
training splits with its calibration temperature. The scores are cached per dataset version
(``<cache>/<dataset version>/<recipe>-s<seed>.npz``), so a teacher's soft labels for distillation — the mean of
another recipe's seeds on the training split — cost nothing once its seeds have run, and a study can be resumed.
Metrics on the test split: ROC-AUC, PR-AUC (average precision), and precision, recall, F1, F2 at the operating point
the default policy chooses on the validation split.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.model.calibration import softmax
from tweet_triage.model.operating_point import DEFAULT_POLICY, Policy, choose, decide, f_beta
from tweet_triage.training.finetune import TrainConfig, batch_logits, encode_examples, fine_tune
from tweet_triage.training.prepare import PreparedDataset

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Recipe:
    name: str
    config: TrainConfig
    teacher: str | None = None  # a recipe whose seeds' mean probabilities on the training split are distilled
    note: str = ""


TODAY = TrainConfig(epochs=4, label_smoothing=0.1)
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("baseline", TODAY, note="4 epochs, label smoothing 0.1 (the recipe before this study)"),
        Recipe(
            "augment",
            replace(TODAY, keyword_dropout=0.3, augment_noise=0.3),
            note="keyword dropout 0.3; hashtag, typo and case noise 0.3 each",
        ),
        Recipe(
            "distill",
            replace(TODAY, distill_weight=0.5),
            teacher="baseline",
            note="half the loss follows the mean of the baseline seeds",
        ),
    )
}


@dataclass(frozen=True)
class SeedResult:
    recipe: str
    seed: int
    roc_auc: float
    pr_auc: float
    precision: float
    recall: float
    f1: float
    f2: float
    threshold: float
    train_seconds: float


@dataclass(frozen=True)
class Scores:
    """Calibrated probabilities of one trained seed on every split, with the example ids."""

    ids: dict[str, list[str]]
    probabilities: dict[str, npt.NDArray[np.float32]]
    train_seconds: float

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"train_seconds": np.array(self.train_seconds)}
        for split in SPLITS:
            arrays[f"ids__{split}"] = np.array(self.ids[split])
            arrays[f"p__{split}"] = self.probabilities[split]
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> Scores:
        with np.load(path) as data:
            return cls(
                {s: [str(x) for x in data[f"ids__{s}"]] for s in SPLITS},
                {s: data[f"p__{s}"].astype(np.float32) for s in SPLITS},
                float(data["train_seconds"]),
            )


def score_path(cache: Path, dataset: PreparedDataset, recipe: str, seed: int) -> Path:
    return cache / dataset.version / f"{recipe}-s{seed}.npz"


def teacher_probabilities(
    cache: Path, dataset: PreparedDataset, recipe: str, seeds: Sequence[int]
) -> dict[str, npt.NDArray[np.float32]]:
    """The mean training-split probabilities of ``recipe``'s cached seeds, by example id."""
    runs = [Scores.load(score_path(cache, dataset, recipe, s)) for s in seeds]
    mean = np.mean([r.probabilities["train"] for r in runs], axis=0).astype(np.float32)
    return dict(zip(runs[0].ids["train"], mean, strict=True))


def train_seed(
    dataset: PreparedDataset,
    recipe: Recipe,
    seed: int,
    *,
    teacher: dict[str, npt.NDArray[np.float32]] | None,
    progress: bool = True,
) -> Scores:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    config = replace(recipe.config, seed=seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tuned = fine_tune(dataset, config, Path(tmp), progress=progress, teacher=teacher)
        seconds = time.perf_counter() - started
        tokenizer = AutoTokenizer.from_pretrained(tmp, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(tmp, local_files_only=True)
        probabilities = {
            split: softmax(
                batch_logits(model, tokenizer, encode_examples(tokenizer, dataset.splits[split], config), 64),
                tuned.temperature,
            )
            for split in SPLITS
        }
    return Scores({s: [e.id for e in dataset.splits[s]] for s in SPLITS}, probabilities, seconds)


def measure(dataset: PreparedDataset, recipe: str, seed: int, scores: Scores) -> SeedResult:
    """Test-split ranking metrics, and the metrics at the default policy's validation-chosen operating point."""
    from sklearn import metrics

    positive = dataset.positive_label
    if positive is None:
        raise ValueError("the recipe study needs a binary dataset with a positive label")
    pos = dataset.labels.index(positive)
    truth = {s: np.array([e.label == positive for e in dataset.splits[s]]) for s in ("validation", "test")}
    point = choose(
        scores.probabilities["validation"][:, pos], truth["validation"], Policy.parse(DEFAULT_POLICY), positive
    )
    p_test = scores.probabilities["test"]
    predicted = decide(p_test, dataset.labels, point) == pos
    precision = float(metrics.precision_score(truth["test"], predicted, zero_division=0))
    recall = float(metrics.recall_score(truth["test"], predicted, zero_division=0))
    return SeedResult(
        recipe=recipe,
        seed=seed,
        roc_auc=float(metrics.roc_auc_score(truth["test"], p_test[:, pos])),
        pr_auc=float(metrics.average_precision_score(truth["test"], p_test[:, pos])),
        precision=precision,
        recall=recall,
        f1=f_beta(precision, recall, 1.0),
        f2=f_beta(precision, recall, 2.0),
        threshold=point.threshold,
        train_seconds=scores.train_seconds,
    )


def run_study(
    dataset: PreparedDataset,
    recipes: Sequence[str],
    seeds: Sequence[int],
    cache: Path,
    *,
    on_result: Callable[[SeedResult], None] | None = None,
    progress: bool = True,
) -> list[SeedResult]:
    """Every (recipe, seed), cached runs reused; a distillation recipe needs its teacher's seeds first."""
    results = []
    for name in recipes:
        recipe = RECIPES[name]
        teacher = None
        if recipe.teacher is not None:
            missing = [s for s in seeds if not score_path(cache, dataset, recipe.teacher, s).exists()]
            if missing:
                raise ValueError(f"recipe {name!r} distils {recipe.teacher!r}: run its seeds {missing} first")
            teacher = teacher_probabilities(cache, dataset, recipe.teacher, seeds)
        for seed in seeds:
            path = score_path(cache, dataset, name, seed)
            if path.exists():
                scores = Scores.load(path)
            else:
                scores = train_seed(dataset, recipe, seed, teacher=teacher, progress=progress)
                scores.save(path)
            result = measure(dataset, name, seed, scores)
            results.append(result)
            if on_result:
                on_result(result)
    return results


METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "f2", "threshold", "train_seconds")


def summary_table(results: Sequence[SeedResult]) -> str:
    """Markdown: mean ± sd over seeds per recipe, and each recipe's difference to the first one."""
    by_recipe: dict[str, list[SeedResult]] = {}
    for r in results:
        by_recipe.setdefault(r.recipe, []).append(r)
    lines = [
        "| recipe | seeds | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    means: dict[str, dict[str, float]] = {}
    for name, runs in by_recipe.items():
        cells = []
        means[name] = {}
        for key in METRICS:
            values = [float(getattr(r, key)) for r in runs]
            means[name][key] = statistics.fmean(values)
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{means[name][key]:.4f} ± {sd:.4f}" if key != "train_seconds" else f"{means[name][key]:.0f}")
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    first = next(iter(means), None)
    if first is not None and len(means) > 1:
        lines += ["", f"Difference of the means to {first}:", ""]
        for name, mean in means.items():
            if name != first:
                deltas = ", ".join(f"{k} {mean[k] - means[first][k]:+.4f}" for k in ("roc_auc", "pr_auc", "f1", "f2"))
                lines.append(f"- {name}: {deltas}")
    return "\n".join(lines) + "\n"


def to_json_rows(results: Sequence[SeedResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
