"""How well the drift monitor works: detection delay after abrupt shifts, false alarms, cost per tweet, memory.

    python benchmarks/bench_drift.py [--model production] [--unshifted 5000] [--shifted 500] [--plot FILE]

Uses the monitor's own settings (TRIAGE_MONITOR__*: ERT, windows, bootstraps, confirmation) and the model's own drift
reference, exactly as `triage monitor` would. Replays (see tweet_triage.monitoring.evaluation):

* false alarms: ``--unshifted`` in-distribution tweets (the held-out test split, reshuffled on each pass);
* delay: 1,000 in-distribution tweets, then ``--shifted`` tweets of one shifted stream; the delay is the number of
  tweets after the shift until a detector's episode opens (an incident), per detector and shift. One shift is a
  switch of language (``tests/data/non_english_tweets.csv``: crisis tweets in seven other languages, cycled), which
  the out-of-scope share detector is for.

Prints a table per detector, the mean and p99 time per tweet of all detectors together, and the process RSS after
1,000 and after all unshifted tweets (bounded memory means no growth). Needs the local stack and a trained model.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from tweet_triage.contracts.scored import ScoredEvent
from tweet_triage.model.predictor import Predictor
from tweet_triage.model.registry import Registry
from tweet_triage.monitoring.drift.monitor import DriftMonitor
from tweet_triage.monitoring.drift.scope import NAME as SCOPE
from tweet_triage.monitoring.evaluation import documentation_sentences, scored_events
from tweet_triage.monitoring.runtime import build_drift_monitor
from tweet_triage.settings import load_settings
from tweet_triage.training.prepare import Example, load, resolve

WARM_UP = 1000
DETECTORS = ("embedding", "output", SCOPE)
OTHER_LANGUAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "non_english_tweets.csv"


@dataclass
class Trace:
    statistics: dict[str, list[float]]
    thresholds: dict[str, list[float]]
    signals: dict[str, list[int]]
    seconds: list[float]
    cpu_seconds: float = 0.0


def replay(monitor: DriftMonitor, events: list[ScoredEvent]) -> Trace:
    trace = Trace({}, {}, {}, [])
    cpu_started = time.process_time()
    for i, event in enumerate(events):
        started = time.perf_counter()
        vector = event.vector
        if vector is None:
            raise SystemExit(f"scored event {event.id} carries no embedding")
        signals = monitor.observe(vector, event.probabilities, event.out_of_scope)
        trace.seconds.append(time.perf_counter() - started)
        for signal in signals:
            trace.signals.setdefault(signal.reading.detector, []).append(i)
        for name, reading in monitor.last_readings.items():
            trace.statistics.setdefault(name, []).append(reading.statistic)
            trace.thresholds.setdefault(name, []).append(reading.threshold)
    trace.cpu_seconds = time.process_time() - cpu_started
    return trace


def cycle(examples: list[Example], n: int, seed: int) -> list[Example]:
    rng = np.random.default_rng(seed)
    out: list[Example] = []
    while len(out) < n:
        out += [examples[i] for i in rng.permutation(len(examples))]
    return out[:n]


def score(predictor: Predictor, version: str, examples: list[Example], prefix: str) -> list[ScoredEvent]:
    texts, keywords = [e.text for e in examples], [e.keyword for e in examples]
    return scored_events(predictor, texts, keywords=keywords, model_version=version, id_prefix=prefix)


def shifted_streams(examples: list[Example], n: int, positive: str | None) -> dict[str, list[Example]]:
    streams = {"documentation": [Example(f"d{i}", t, "?") for i, t in enumerate(documentation_sentences(n))]}
    if positive is not None:
        streams["emergencies"] = cycle([e for e in examples if e.label == positive], n, 1)
    keywords: dict[str, list[Example]] = {}
    for e in examples:
        for hazard in ("fire", "flood", "storm", "bomb", "crash"):
            if hazard in e.keyword:
                keywords.setdefault(hazard, []).append(e)
    hazard, tweets = max(keywords.items(), key=lambda item: len(item[1]))
    streams[f"one topic ({hazard}, {len(tweets)} tweets cycled)"] = cycle(tweets, n, 2)
    with OTHER_LANGUAGES.open(encoding="utf-8", newline="") as handle:
        foreign = [Example(f"l{i}", row["text"], "?") for i, row in enumerate(csv.DictReader(handle))]
    streams[f"other languages ({len(foreign)} tweets cycled)"] = cycle(foreign, n, 3)
    return streams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="production", help="version number or alias (default: production)")
    parser.add_argument("--unshifted", type=int, default=5000)
    parser.add_argument("--shifted", type=int, default=500)
    parser.add_argument("--plot", type=Path, default=Path("bench-results/drift.png"))
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    import torch

    torch.set_num_threads(1)  # as in `triage monitor`: the detector's tensors are tiny, threads only add overhead
    settings = load_settings()
    registry = Registry(settings)
    version = registry.get(args.model)
    folder = registry.download(version)
    predictor = Predictor(folder, version=version.version)
    root = settings.data.data_dir / "prepared"
    dataset_version = version.tags.get("dataset.version", "")
    dataset = load(root / dataset_version if (root / dataset_version).exists() else resolve(root, "latest"))
    test = dataset.splits["test"]
    cfg = settings.monitor
    print(
        f"model {version.name} v{version.version}; reference from its package; MMD on embeddings (window "
        f"{cfg.window_size}) + CVM on outputs (window {cfg.output_window_size}); ERT {cfg.ert}, "
        f"{cfg.n_bootstraps} bootstraps, {cfg.confirm_updates} consecutive drifted tweets open an episode"
    )

    started = time.perf_counter()
    build_drift_monitor(settings, version.version, folder)
    print(f"calibration (or threshold cache): {time.perf_counter() - started:.1f} s")

    print(f"scoring {args.unshifted} unshifted + {WARM_UP} warm-up + shifted streams with the model ...")
    calm = score(predictor, version.version, cycle(test, args.unshifted, 0), "calm")
    warm = score(predictor, version.version, cycle(test, WARM_UP, 7), "warm")
    shifts = {
        name: score(predictor, version.version, examples, name[:4])
        for name, examples in shifted_streams(test, args.shifted, dataset.positive_label).items()
    }

    process = psutil.Process()
    monitor = build_drift_monitor(settings, version.version, folder)
    first = replay(monitor, calm[:WARM_UP])
    rss_early = process.memory_info().rss
    rest = replay(monitor, calm[WARM_UP:])
    rss_late = process.memory_info().rss
    seconds = first.seconds + rest.seconds
    false_alarms = {name: len(first.signals.get(name, [])) + len(rest.signals.get(name, [])) for name in DETECTORS}

    print(f"\nfalse alarms over {len(calm)} unshifted tweets (episodes opened):")
    for name, count in false_alarms.items():
        print(f"  {name:<10} {count}")
    print(f"  incidents  {int(any(false_alarms.values()))} (alerts deduplicate detectors into one incident)")

    print(f"\ndetection delay after the shift (tweets; '-' = not detected within {args.shifted}):")
    print(f"  {'shift':<38} {'embedding':>10} {'output':>8} {'language':>9} {'incident':>9}")
    traces = {}
    for name, events in shifts.items():
        monitor = build_drift_monitor(settings, version.version, folder)
        replay(monitor, warm)
        trace = replay(monitor, events)
        traces[name] = trace
        delays = {d: (trace.signals[d][0] + 1 if trace.signals.get(d) else None) for d in DETECTORS}
        found = [d for d in delays.values() if d is not None]
        incident = min(found) if found else None
        cells = [str(delays[d] or "-") for d in DETECTORS] + [str(incident or "-")]
        print(f"  {name:<38} {cells[0]:>10} {cells[1]:>8} {cells[2]:>9} {cells[3]:>9}")
        flagged = sum(e.out_of_scope for e in events) / len(events)
        statistic = max(trace.statistics.get("embedding", [0.0]))
        print(f"  {'':<38} out of scope {flagged:.0%}; highest embedding statistic {statistic:.3f}")

    ms = [s * 1000 for s in seconds]
    cpu_ms = 1000 * (first.cpu_seconds + rest.cpu_seconds) / len(calm)
    print(
        f"\ncost per tweet (both detectors, bookkeeping included): CPU {cpu_ms:.3f} ms; wall clock mean "
        f"{statistics.fmean(ms):.3f} ms, median {statistics.median(ms):.3f} ms, p99 {float(np.percentile(ms, 99)):.3f} "
        f"ms (budget 1 ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"memory: RSS {rss_early / 2**20:.0f} MB after {WARM_UP} tweets, {rss_late / 2**20:.0f} MB after "
        f"{len(calm)} (growth {(rss_late - rss_early) / 2**20:+.1f} MB)"
    )
    plot(args.plot, rest, traces)


def plot(path: Path, calm: Trace, shifts: dict[str, Trace]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(DETECTORS), 1 + len(shifts), figsize=(5 * (1 + len(shifts)), 9), squeeze=False)
    for column, (title, trace) in enumerate([("unshifted", calm), *shifts.items()]):
        for row, detector in enumerate(DETECTORS):
            ax = axes[row][column]
            ax.plot(trace.statistics.get(detector, []), lw=0.7, label="statistic")
            ax.plot(trace.thresholds.get(detector, []), lw=1.0, color="red", label="threshold")
            for hit in trace.signals.get(detector, []):
                ax.axvline(hit, color="orange", lw=1.5)
            ax.set_title(f"{title[:30]} — {detector}", fontsize=9)
            ax.set_xlabel("tweets after the start" if title == "unshifted" else "tweets after the shift")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
