"""Our predictor vs fp32 ONNX Runtime vs the plain transformers pipeline, on the same tweets, in one run.

    python benchmarks/bench_model.py [--model production] [--tweets 2000] [--repeats 5]

All three score the same labelled tweets (validation + test splits of the model's own dataset version) on the same
number of cores, each at every batch size, passes interleaved; tweets/s are medians of ``--repeats`` passes. Printed
side by side with the CPU (model and int8-relevant flags): tweets/s per batch size, the ratios at each engine's best
batch size, F1 of all three, label agreement and max |Δp| of ours against fp32, and our batch invariance (every
tweet alone vs in mixed-length batches). Needs the local stack (MLflow) and a registered model with its training run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.model.hardware import cpu_info
from tweet_triage.model.places import gazetteer
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import Registry
from tweet_triage.settings import load_settings
from tweet_triage.stream.stories import story_id
from tweet_triage.training import export
from tweet_triage.training.evaluate import evaluate
from tweet_triage.training.packaging import staging_package
from tweet_triage.training.prepare import load
from tweet_triage.training.quality import batch_invariance
from tweet_triage.training.quantization.measure import Tweets, predictor_scorer, speeds
from tweet_triage.training.quantization.schemes import REFERENCE
from tweet_triage.training.stages import HF_MODEL_ARTIFACT

BATCH_SIZES = (1, 16, 32, 64)
Probabilities = npt.NDArray[np.floating[Any]]
OURS, FP32, PIPELINE = "ours", "fp32 ONNX Runtime", "transformers pipeline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="production", help="version number or alias (default: production)")
    parser.add_argument("--tweets", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2, help="cores each engine may use")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    import torch
    from transformers import pipeline

    torch.set_num_threads(args.threads)
    settings = load_settings()
    registry = Registry(settings)
    version = registry.get(args.model)
    if version.run_id is None:
        raise SystemExit(f"v{version.version} has no training run to take the fp32 weights from")
    ours = Predictor(registry.download(version), version=version.version, threads=args.threads)
    dataset = load(settings.data.data_dir / "prepared" / version.tags["dataset.version"])
    examples = (dataset.splits["test"] + dataset.splits["validation"])[: args.tweets]
    tweets = Tweets([e.text for e in examples], [e.keyword for e in examples], [e.label for e in examples])
    inputs = ours.inputs(tweets.texts, tweets.keywords)  # the pipeline gets exactly the strings our model sees

    print(f"CPU: {cpu_info().describe()}")
    print(f"model {version.name} v{version.version}; {len(tweets)} tweets; {args.threads} cores per engine")
    print(ours.host_choice.summary() if ours.host_choice else f"serving graph {ours.graph} (the package's only one)")

    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = Path(registry.client.download_artifacts(version.run_id, HF_MODEL_ARTIFACT, tmp))
        fp32 = Predictor(_fp32_package(hf_dir, ours, Path(tmp)), version="fp32", threads=args.threads, graph=REFERENCE)
        baseline = pipeline(
            "text-classification",
            model=str(hf_dir),
            tokenizer=str(hf_dir),
            device=-1,
            top_k=None,
            truncation=True,
            max_length=ours.meta.max_length,
        )
        measured = speeds(
            {
                OURS: predictor_scorer(ours, tweets),
                FP32: predictor_scorer(fp32, tweets),
                PIPELINE: lambda size: baseline(inputs, batch_size=size),
            },
            len(tweets),
            BATCH_SIZES,
            args.repeats,
        )
        p_ours = ours.score(tweets.texts, tweets.keywords).probabilities
        p_fp32 = fp32.score(tweets.texts, tweets.keywords).probabilities
        p_pipe = _pipeline_probabilities(baseline(inputs, batch_size=32), ours.labels)
    invariance = batch_invariance(ours, tweets.texts[:500], tweets.keywords[:500], tolerance=1e-4)
    _report(measured, tweets, ours, p_ours, p_fp32, p_pipe, invariance.max_difference, dataset.positive_label)
    _annotation_cost(ours, tweets, max(measured[OURS].values()), args.threads, args.repeats)


def _annotation_cost(ours: Predictor, tweets: Tweets, tweets_per_second: float, threads: int, repeats: int) -> None:
    """What the worker adds per tweet besides the model (language, story, place; one core each), against the
    scorer's CPU time per tweet at its best batch size (all its cores): the worker's main cost, so an upper bound."""
    gazetteer()  # built once per process, before the first batch: not a per-tweet cost

    def cpu_ms(work: Callable[[], object]) -> float:
        timings = []
        for _ in range(repeats):
            started = time.process_time()
            work()
            timings.append((time.process_time() - started) / len(tweets))
        return 1000 * statistics.median(timings)

    scorer_ms = 1000 * threads / tweets_per_second
    languages = ours.languages(tweets.texts)
    language_ms = cpu_ms(lambda: ours.languages(tweets.texts))
    story_ms = cpu_ms(lambda: [story_id(text) for text in tweets.texts])
    place_ms = cpu_ms(lambda: [gazetteer().resolve(text, None) for text in tweets.texts])
    flagged = sum(lang.out_of_scope() for lang in languages) / len(languages)
    print(f"\nper tweet, CPU (median of {repeats}), against the scorer's {scorer_ms:.3f} ms at its best batch size:")
    print(f"  language identification {language_ms:.3f} ms = {language_ms / scorer_ms:.1%} (goal <= 10%); "
          f"{flagged:.2%} of these English tweets flagged out of scope")  # fmt: skip
    both = story_ms + place_ms
    print(f"  story id {story_ms:.3f} ms + place lookup {place_ms:.3f} ms = {both / scorer_ms:.1%} (goal <= 15%)")


def _fp32_package(hf_dir: Path, ours: Predictor, work: Path) -> Path:
    """The same fine-tuned weights exported to fp32 ONNX, packaged like ours (same tokenizer and metadata)."""
    staging_package(work / "fp32", export.export_onnx(hf_dir, work / "onnx"), hf_dir, ours.meta)
    return work / "fp32"


def _pipeline_probabilities(output: Any, labels: Sequence[str]) -> Probabilities:
    return np.array([[next(d["score"] for d in row if d["label"] == label) for label in labels] for row in output])


def _report(
    measured: dict[str, dict[int, float]],
    tweets: Tweets,
    ours: Predictor,
    p_ours: Probabilities,
    p_fp32: Probabilities,
    p_pipe: Probabilities,
    invariance: float,
    positive_label: str | None,
) -> None:
    print(f"{'batch':>6} {OURS + ' (' + ours.graph + ')':>34} {FP32:>20} {PIPELINE:>24}")
    for size in BATCH_SIZES:
        row = measured[OURS][size], measured[FP32][size], measured[PIPELINE][size]
        print(f"{size:>6} {row[0]:>32.1f}/s {row[1]:>18.1f}/s {row[2]:>22.1f}/s")
    best = {name: max(by_size.values()) for name, by_size in measured.items()}
    f1 = {
        name: evaluate(p, tweets.truth, ours.labels, positive_label).f1
        for name, p in ((OURS, p_ours), (FP32, p_fp32), (PIPELINE, p_pipe))
    }
    agreement = float((p_ours.argmax(1) == p_fp32.argmax(1)).mean())
    max_dp = float(np.abs(p_ours - p_fp32).max())
    print(
        f"best: ours {best[OURS]:.1f}/s, fp32 ONNX {best[FP32]:.1f}/s, pipeline {best[PIPELINE]:.1f}/s -> "
        f"ours / pipeline {best[OURS] / best[PIPELINE]:.2f}x, ours / fp32 ONNX {best[OURS] / best[FP32]:.2f}x"
    )
    print(
        f"F1 on these {len(tweets)} labelled tweets: ours {f1[OURS]:.4f}, fp32 ONNX {f1[FP32]:.4f}, "
        f"pipeline {f1[PIPELINE]:.4f}; ours vs fp32: F1 {f1[OURS] - f1[FP32]:+.4f}, label agreement {agreement:.2%}, "
        f"max |dp| {max_dp:.3f}; batch invariance of ours {invariance:.1e}"
    )
    print(
        json.dumps(
            {
                "cpu": cpu_info().to_dict(),
                "graph": ours.graph,
                "tweets_per_second": {
                    name: {str(b): v for b, v in by_size.items()} for name, by_size in measured.items()
                },
                "ratio_vs_pipeline": best[OURS] / best[PIPELINE],
                "ratio_vs_fp32": best[OURS] / best[FP32],
                "f1": f1,
                "label_agreement_vs_fp32": agreement,
                "max_abs_dp_vs_fp32": max_dp,
                "batch_invariance": invariance,
            }
        )
    )


if __name__ == "__main__":
    main()
