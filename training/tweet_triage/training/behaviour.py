"""Behavioural checks of a trained model (in the spirit of CheckList): invariance and minimum functionality.

They run against any scoring function ``texts -> probabilities`` so the same checks apply to the fine-tuned PyTorch
model, the ONNX export and the quantized package.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Scorer = Callable[[Sequence[str]], npt.NDArray[np.float32]]

# Real links, and the placeholder token prepared (normalized) tweets carry where a link was.
_URL = re.compile(r"https?://\S+|www\.\S+|\bhttp\b", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")

# Clear cases any useful triage model must get right. Metaphors and jokes are the classic false alarms.
MINIMUM_FUNCTIONALITY: tuple[tuple[str, bool], ...] = (
    ("Massive earthquake just hit, buildings collapsed downtown, people trapped under rubble", True),
    ("Forest fire spreading fast toward the highway, residents ordered to evacuate now", True),
    ("Flood water rising in our street, family stuck on the roof, please send help", True),
    ("Hurricane has destroyed the coastal town, hundreds of homes flattened", True),
    ("Train derailed and caught fire near the station, many injured", True),
    ("Tornado warning: take shelter immediately, the storm is heading for the city", True),
    ("Explosion at the chemical plant, toxic smoke over the neighbourhood", True),
    ("Bridge collapsed during rush hour, cars fell into the river", True),
    ("my new mixtape is fire, go listen", False),
    ("This party is the bomb, best night ever", False),
    ("I'm drowning in homework this week lol", False),
    ("That concert last night was a total disaster for my ears haha", False),
    ("Our team got destroyed in the game tonight", False),
    ("I love this song so much, it's an absolute banger", False),
    ("Just had the best pizza of my life", False),
    ("Can't wait for the weekend, going to the beach with friends", False),
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    score: float  # pass rate (minimum functionality) or agreement rate (invariance)
    threshold: float
    failures: list[str]


def minimum_functionality(
    score: Scorer, labels: list[str], positive_label: str | None, threshold: float = 0.8
) -> CheckResult | None:
    """Only defined for binary models with a known positive (emergency) class."""
    if positive_label is None or len(labels) != 2:
        return None
    pos = labels.index(positive_label)
    texts = [text for text, _ in MINIMUM_FUNCTIONALITY]
    predicted = score(texts).argmax(axis=1) == pos
    expected = np.array([is_emergency for _, is_emergency in MINIMUM_FUNCTIONALITY])
    failures = [text for text, p, e in zip(texts, predicted, expected, strict=True) if p != e]
    rate = float((predicted == expected).mean())
    return CheckResult("minimum functionality", rate >= threshold, rate, threshold, failures)


def invariance(
    score: Scorer,
    texts: Sequence[str],
    *,
    name: str,
    perturb: Callable[[str, random.Random], str],
    threshold: float,
    seed: int = 0,
) -> CheckResult:
    """The predicted label should not change under a perturbation that does not change meaning."""
    rng = random.Random(seed)
    perturbed = [perturb(text, rng) for text in texts]
    before = score(texts).argmax(axis=1)
    after = score(perturbed).argmax(axis=1)
    flipped = [f"{a!r} -> {b!r}" for a, b, x, y in zip(texts, perturbed, before, after, strict=True) if x != y]
    rate = 1.0 - len(flipped) / max(len(texts), 1)
    return CheckResult(name, rate >= threshold, rate, threshold, flipped[:20])


def _add_url(text: str, rng: random.Random) -> str:
    return f"{text} https://t.co/{''.join(rng.choices('abcdefghijkmnpqrstuvwxyz0123456789', k=10))}"


def _add_mention(text: str, rng: random.Random) -> str:
    return f"@{rng.choice(['newsdesk', 'jane_doe', 'reliefcrew', 'x1234'])} {text}"


def _swap_links_and_handles(text: str, rng: random.Random) -> str:
    """Other URLs and other @handles in the same places: the model must not care which."""
    text = _URL.sub(lambda _: f"https://example.org/{rng.randrange(10**6)}", text)
    return _HANDLE.sub(lambda _: f"@someone{rng.randrange(10**6)}", text)


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(len(w) - 1)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def standard_checks(
    score: Scorer, texts: Sequence[str], labels: list[str], positive_label: str | None
) -> list[CheckResult]:
    """Which link or handle a tweet carries must not matter at all (normalization guarantees it). Adding one, or a
    typo, changes the input the model reads, so a few flips are tolerated."""
    with_entities = [t for t in texts if _URL.search(t) or _HANDLE.search(t)] or list(texts)
    results = [
        invariance(
            score,
            with_entities,
            name="invariance: other URLs and @handles",
            perturb=_swap_links_and_handles,
            threshold=1.0,
        ),
        invariance(score, texts, name="robustness: appended URL", perturb=_add_url, threshold=0.95),
        invariance(score, texts, name="robustness: leading @mention", perturb=_add_mention, threshold=0.95),
        invariance(score, texts, name="robustness: one swapped-letter typo", perturb=_typo, threshold=0.9),
    ]
    mft = minimum_functionality(score, labels, positive_label)
    return [*results, mft] if mft is not None else results
