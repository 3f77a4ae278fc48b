"""Calibrated probabilities from a model's logits: softmax after temperature scaling (the package's temperature)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def softmax(logits: npt.NDArray[np.float32], temperature: float = 1.0) -> npt.NDArray[np.float32]:
    """Row-wise softmax of ``logits / temperature``, in float32."""
    scaled = logits / temperature if temperature != 1.0 else logits
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: npt.NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities
