"""Label-preserving noise for training tweets: what changes between crises and writers but not what a tweet means.

Applied on the fly, a fresh draw every epoch, to the training split only:

* **keyword dropout** — other sources (and other crises) send no keyword, or another one; a model that always sees
  the dataset's keyword prefix leans on it;
* **hashtag stripping** — ``#flood`` and ``flood`` say the same;
* **typos** — one adjacent-character swap or one dropped character in a word of at least four letters;
* **case** — a tweet in capitals, or all lower case.

URLs and @handles need no noise: the text normalization already replaces them by placeholders.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_HASHTAG = re.compile(r"#(\w+)")
_WORD = re.compile(r"[A-Za-z]{4,}")


@dataclass(frozen=True)
class Augmentation:
    keyword_dropout: float = 0.0  # probability the keyword is removed
    noise: float = 0.0  # probability a tweet gets each of the text transforms (hashtags, one typo, case)

    @property
    def active(self) -> bool:
        return self.keyword_dropout > 0 or self.noise > 0


def augment(text: str, keyword: str, rng: random.Random, plan: Augmentation) -> tuple[str, str]:
    """A noisy copy of (text, keyword) with the same label; the inputs unchanged when ``plan`` is inactive."""
    if keyword and rng.random() < plan.keyword_dropout:
        keyword = ""
    if rng.random() < plan.noise:
        text = _HASHTAG.sub(r"\1", text)
    if rng.random() < plan.noise:
        text = _typo(text, rng)
    if rng.random() < plan.noise:
        text = text.upper() if rng.random() < 0.5 else text.lower()
    return text, keyword


def _typo(text: str, rng: random.Random) -> str:
    words = list(_WORD.finditer(text))
    if not words:
        return text
    word = rng.choice(words)
    chars = list(word.group())
    at = rng.randrange(len(chars) - 1)
    if rng.random() < 0.5:
        chars[at], chars[at + 1] = chars[at + 1], chars[at]
    else:
        del chars[at]
    return text[: word.start()] + "".join(chars) + text[word.end() :]
