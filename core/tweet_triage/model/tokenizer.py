"""The package's tokenizer, loaded with the `tokenizers` library alone (no transformers, no torch in serving).

A model package ships the fast tokenizer's ``tokenizer.json`` (vocabulary, normalizer, the [CLS]/[SEP] template)
and ``tokenizer_config.json``; encoding here gives the same ids as transformers' ``AutoTokenizer`` with
``truncation=True, max_length=...`` (checked by the tests on the package of a trained model).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

from tweet_triage.errors import ModelError

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"


class PackageTokenizer:
    def __init__(self, folder: Path, *, max_length: int) -> None:
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            raise ModelError(f"cannot load the tokenizer in {folder}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        pad_token = config.get("pad_token")
        if isinstance(pad_token, dict):  # older configs store an AddedToken
            pad_token = pad_token.get("content")
        pad_id = self._tokenizer.token_to_id(pad_token) if isinstance(pad_token, str) else None
        self.pad_id: int = pad_id if pad_id is not None else 0

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text with the model's special tokens, truncated, unpadded."""
        if not texts:
            return []
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
