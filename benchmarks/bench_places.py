"""Place lookup against hand labels: precision, coverage and cost per tweet of ``tweet_triage.model.places``.

    python benchmarks/bench_places.py [--gold FILE ...]

Two hand-labelled sets of tweets from the training data, each tweet labelled by reading it: the place its text is
about and the place its user's location field names, with coordinates (ids and labels only; the tweets are read from
the pulled dataset, ``triage data pull disaster-tweets``). ``places_gold.csv`` (300 tweets, ``df.sample(n=300,
random_state=17)``) was looked at while the rules were written, so its figure is optimistic; ``places_heldout.csv``
(200 other tweets, ``random_state=29``) was labelled blind and only measured: quote that one. A resolved place is
right when it lies in the labelled country and, for a city, within :data:`CITY_KM` of the labelled point, for a state
within :data:`REGION_KM` (a country is right when the country is). It is judged against the label of the field it came
from: a place found in the text of a tweet whose text names none is wrong.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from tweet_triage.model.hardware import cpu_info
from tweet_triage.model.places import Place, gazetteer
from tweet_triage.settings import load_settings
from tweet_triage.training.datasets import raw_dir

DATA = Path(__file__).parent / "data"
GOLD = (DATA / "places_gold.csv", DATA / "places_heldout.csv")
CITY_KM = 50.0
REGION_KM = 500.0


@dataclass(frozen=True)
class Gold:
    country: str
    kind: str
    lat: float
    lon: float


def read_gold(path: Path) -> dict[str, tuple[Gold | None, Gold | None]]:
    """Per tweet id: the labelled (text place, profile place)."""

    def place(row: dict[str, str], prefix: str) -> Gold | None:
        if not row[f"{prefix}_country"]:
            return None
        return Gold(
            row[f"{prefix}_country"], row[f"{prefix}_kind"], float(row[f"{prefix}_lat"]), float(row[f"{prefix}_lon"])
        )

    with path.open(encoding="utf-8", newline="") as handle:
        return {row["id"]: (place(row, "text"), place(row, "profile")) for row in csv.DictReader(handle)}


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def right(found: Place, gold: Gold | None) -> bool:
    if gold is None or found.country != gold.country:
        return False
    if found.kind == "country":
        return True
    limit = CITY_KM if found.kind == "city" and gold.kind == "city" else REGION_KM
    return km(found.latitude, found.longitude, gold.lat, gold.lon) <= limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, nargs="+", default=list(GOLD))
    args = parser.parse_args()
    golds = {path: read_gold(path) for path in args.gold}
    wanted = {tweet_id for gold in golds.values() for tweet_id in gold}
    settings = load_settings()
    tweets: dict[str, tuple[str, str]] = {}
    with (raw_dir(settings.data.data_dir, "disaster-tweets") / "train.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["id"] in wanted:
                tweets[row["id"]] = (row["text"], row["location"])
    missing = sorted(wanted - set(tweets))
    if missing:
        raise SystemExit(f"{len(missing)} gold tweet(s) are not in the pulled dataset (first: {missing[0]})")
    print(f"CPU: {cpu_info().describe()}")
    started = time.perf_counter()
    places = gazetteer()
    print(f"gazetteer built in {time.perf_counter() - started:.2f} s")
    for path, gold in golds.items():
        report(path.name, gold, {i: tweets[i] for i in gold})

    texts = list(tweets.values()) * 10
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        for text, location in texts:
            places.resolve(text, location)
        timings.append((time.perf_counter() - started) / len(texts))
    print(f"\ncost: {statistics.median(timings) * 1e3:.3f} ms per tweet (median of 5 runs over {len(texts)} tweets)")


def report(name: str, gold: dict[str, tuple[Gold | None, Gold | None]], tweets: dict[str, tuple[str, str]]) -> None:
    places = gazetteer()
    outcome = {"text": [0, 0], "profile": [0, 0]}  # source -> [resolved, right]
    wrong: list[str] = []
    for tweet_id, (text, location) in tweets.items():
        found = places.resolve(text, location)
        if found is None:
            continue
        text_gold, profile_gold = gold[tweet_id]
        ok = right(found, text_gold if found.source == "text" else profile_gold)
        outcome[found.source][0] += 1
        outcome[found.source][1] += ok
        if not ok:
            wrong.append(f"  {tweet_id}: {found.label} ({found.kind}, from the {found.source})")
    labelled = sum(1 for t, p in gold.values() if t is not None or p is not None)
    resolved = sum(n for n, _ in outcome.values())
    correct = sum(hits for _, hits in outcome.values())
    print(f"\n{name}: {len(gold)} hand-labelled tweets, {labelled} with a place in the text or the location field")
    print("| found in | resolved | right | precision |\n|---|---|---|---|")
    for source, (n, hits) in outcome.items():
        print(f"| {source} | {n} | {hits} | {hits / n if n else float('nan'):.1%} |")
    print(f"| all | {resolved} | {correct} | {correct / max(resolved, 1):.1%} |")
    print(f"coverage: a right place for {correct} of the {labelled} tweets with a place ({correct / labelled:.1%})")
    print("wrong:\n" + "\n".join(wrong[:40]))


if __name__ == "__main__":
    main()
