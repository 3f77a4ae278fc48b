"""Tweet text normalization, shared by training and scoring so both see exactly the same input.

Changing anything here changes model inputs: bump :data:`NORMALIZATION_VERSION` so model packages record which
normalization they were trained with, and the predictor refuses a package made with another one.
"""

from __future__ import annotations

import html
import re
import urllib.parse

import ftfy

NORMALIZATION_VERSION = "1"

# This dataset's mojibake cannot be undone by ftfy: the original UTF-8 bytes were lost when the text was decoded as
# Windows-1252 and re-encoded (U+2026 "…" became "\x89Û_"). These are the frequent sequences and what they stood for.
_MOJIBAKE = (
    ("\x89Û_", "..."),
    ("\x89ÛÒ", " - "),
    ("\x89ÛÓ", " - "),
    ("\x89Ûª", "'"),
    ("\x89Û÷", "'"),
    ("\x89ÛÏ", '"'),
    ("\x89Û\x9d", '"'),
    ("\x89Û¢", ""),
    ("\x89ã¢", ""),
    ("åÊ", " "),
    ("åÈ", ""),
    ("å¨", ""),
    ("åÇ", ""),
    ("å£", "£"),
    ("å«", ""),
    ("Ì©", "é"),
    ("Ì¼", "ü"),
    ("Ì_", ""),
    ("å_", ""),
)
_C1_CONTROLS = re.compile(r"[\x80-\x9f]")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")

_MAX_PASSES = 8

URL_TOKEN = "http"
MENTION_TOKEN = "@user"


def normalize_tweet(text: str) -> str:
    """Repair encoding damage, decode HTML entities, and replace URLs and @handles by placeholder tokens.

    The placeholders keep the signal ("this tweet links somewhere", "this tweet addresses someone") without the
    identifiers, which carry no meaning for triage and differ between retweets of the same message.
    """
    for _ in range(_MAX_PASSES):  # a repair can expose further damage; stop at a fixed point
        normalized = _normalize_once(text)
        if normalized == text:
            break
        text = normalized
    return text


def _normalize_once(text: str) -> str:
    text = html.unescape(text)
    for broken, meant in _MOJIBAKE:
        text = text.replace(broken, meant)
    text = _C1_CONTROLS.sub("", ftfy.fix_text(text))
    text = _URL.sub(URL_TOKEN, text)
    text = _MENTION.sub(MENTION_TOKEN, text)
    return _SPACE.sub(" ", text).strip()


def normalize_keyword(keyword: str | None) -> str:
    """Keywords arrive URL-encoded in some sources ("forest%20fire")."""
    if not keyword:
        return ""
    return _SPACE.sub(" ", urllib.parse.unquote(keyword)).strip()


def model_input(text: str, keyword: str | None = None, *, use_keyword: bool = False) -> str:
    """The string the tokenizer sees: the normalized text, optionally prefixed by the event's keyword."""
    body = normalize_tweet(text)
    if use_keyword and (kw := normalize_keyword(keyword)):
        return f"{kw}: {body}"
    return body
