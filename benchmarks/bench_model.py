"""Our predictor (int8 ONNX) vs the plain transformers pipeline (fp32 PyTorch) on the same tweets, in one run.

    python benchmarks/bench_model.py [--model production] [--tweets 2000]

Both score the same labelled tweets (validation + test splits of the model's own dataset version), each at its best
batch size, on the same number of threads. Prints tweets/s for every batch size, the speed ratio at the best sizes, and
the F1 of both. Needs the local stack (MLflow) and a registered model trained by `triage train`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import Registry
from tweet_triage.settings import load_settings
from tweet_triage.training.evaluate import evaluate
from tweet_triage.training.pipeline import HF_MODEL_ARTIFACT
from tweet_triage.training.prepare import load

BATCH_SIZES = (1, 8, 16, 32, 64)


def best_throughput(
    score: Callable[[Sequence[str], int], None], texts: Sequence[str], repeats: int
) -> dict[int, float]:
    """tweets/s per batch size: the median of ``repeats`` timed passes after one warm-up pass."""
    results = {}
    for size in BATCH_SIZES:
        score(texts[:64], size)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            score(texts, size)
            timings.append(time.perf_counter() - started)
        results[size] = len(texts) / statistics.median(timings)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="production", help="version number or alias (default: production)")
    parser.add_argument("--tweets", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    import torch
    from transformers import pipeline

    torch.set_num_threads(args.threads)
    settings = load_settings()
    registry = Registry(settings)
    version = registry.get(args.model)
    ours = Predictor(registry.download(version), version=version.version, threads=args.threads)
    dataset = load(settings.data.data_dir / "prepared" / version.tags["dataset.version"])
    examples = (dataset.splits["test"] + dataset.splits["validation"])[: args.tweets]
    texts = [e.text for e in examples]
    keywords = [e.keyword for e in examples]
    truth = [e.label for e in examples]
    inputs = ours.inputs(texts, keywords)  # the pipeline gets exactly the strings our model sees

    with tempfile.TemporaryDirectory() as tmp:
        if version.run_id is None:
            raise SystemExit(f"v{version.version} has no training run to take the fp32 weights from")
        hf_dir = registry.client.download_artifacts(version.run_id, HF_MODEL_ARTIFACT, tmp)
        baseline = pipeline(
            "text-classification",
            model=hf_dir,
            tokenizer=hf_dir,
            device=-1,
            top_k=None,
            truncation=True,
            max_length=ours.meta.max_length,
        )

        def score_ours(batch: Sequence[str], size: int) -> None:
            ours.score(batch, keywords[: len(batch)], batch_size=size)

        def score_pipeline(batch: Sequence[str], size: int) -> None:
            baseline(list(batch), batch_size=size)

        print(f"model {version.name} v{version.version}; {len(texts)} tweets; {args.threads} threads")
        ours_speed = best_throughput(score_ours, texts, args.repeats)
        pipe_speed = best_throughput(score_pipeline, inputs, args.repeats)

        ours_probs = ours.score(texts, keywords).probabilities
        pipe_out: Any = baseline(inputs, batch_size=max(pipe_speed, key=lambda s: pipe_speed[s]))
        pipe_probs = np.array(
            [[next(d["score"] for d in row if d["label"] == label) for label in ours.labels] for row in pipe_out]
        )

    print(f"{'batch':>6} {'ours int8 ONNX':>16} {'transformers pipeline':>22}")
    for size in BATCH_SIZES:
        print(f"{size:>6} {ours_speed[size]:>13.1f}/s {pipe_speed[size]:>19.1f}/s")
    best_ours, best_pipe = max(ours_speed.values()), max(pipe_speed.values())
    f1_ours = evaluate(ours_probs, truth, ours.labels, dataset.positive_label).f1
    f1_pipe = evaluate(pipe_probs, truth, ours.labels, dataset.positive_label).f1
    print(
        f"best: ours {best_ours:.1f} tweets/s, pipeline {best_pipe:.1f} tweets/s -> ratio {best_ours / best_pipe:.2f}x"
    )
    print(f"F1 on these {len(texts)} labelled tweets: ours (int8) {f1_ours:.4f}, pipeline (fp32) {f1_pipe:.4f}")
    print(f"label agreement {float((ours_probs.argmax(1) == pipe_probs.argmax(1)).mean()):.4f}")


if __name__ == "__main__":
    main()
