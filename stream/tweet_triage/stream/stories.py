"""Stories: retweets and near-copies of one report folded under one id, computed from the text alone.

During a crisis many tweets repeat one report: retweets (``RT @user: ...``), copies with another link or handle, a
trailing ``via @agency``, other hashtags appended, other punctuation or case. A coordinator should read the report
once and see how often it was repeated. The story id is a hash of the tweet's *story key*: its text normalised the way
the model reads it (:func:`tweet_triage.model.text.normalize_tweet`: encoding repaired, entities decoded, links and
handles replaced), then lower-cased, with the retweet prefix, ``via`` credits, links, handles, hashtags appended at
the end, ``#`` marks, punctuation and spacing removed. The same text always gets the same id, on every worker and
after every restart, with no state and no second model pass; grouping by it is a plain equality (the dashboard folds
the stories it has loaded, a query can count one story in the store).

What it does not fold: paraphrases ("Bridge down on 5th" / "the 5th street bridge collapsed"). The scorer's embedding
could, at the price of per-partition state that differs between workers; not done.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final

from tweet_triage.model.text import MENTION_TOKEN, URL_TOKEN, normalize_tweet

STORY_PREFIX: Final = "s-"
_RETWEET = re.compile(r"^\s*(?:rt|mt)\b\s*(?:@user\b)?\s*:?\s*", re.IGNORECASE)
_TRAILING_TAGS = re.compile(r"(?:\s*#\w+)+\s*$")
_VIA = re.compile(r"\b(?:via|h/t|cc)\s*@user\b", re.IGNORECASE)
_PLACEHOLDERS = re.compile(rf"(?:{re.escape(MENTION_TOKEN)}|\b{re.escape(URL_TOKEN)}\b)")
_NOT_WORD = re.compile(r"[^\w]+")


def story_key(text: str) -> str:
    """The text two copies of one report share (see the module docstring); may be empty (a link alone)."""
    normalized = normalize_tweet(text)
    while True:  # "RT @a: RT @b: ..." — a retweet of a retweet
        stripped = _RETWEET.sub("", normalized, count=1)
        if stripped == normalized:
            break
        normalized = stripped
    normalized = _VIA.sub(" ", normalized)
    normalized = _PLACEHOLDERS.sub(" ", normalized).strip()
    without_tags = _TRAILING_TAGS.sub("", normalized)  # tags appended to a copy; a tag-only tweet keeps them
    normalized = without_tags if without_tags.strip() else normalized
    folded = unicodedata.normalize("NFKC", normalized).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).replace("_", " ").split())


def story_id(text: str) -> str:
    """A short, stable id of the tweet's story: ``s-`` and 16 hex digits of the key's SHA-256.

    A tweet with no words of its own (only links or handles) is a story of its own: its key is its full text.
    """
    key = story_key(text) or f"\0{text}"
    return STORY_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
