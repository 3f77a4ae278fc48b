"""Figures logged with every training run: learning curves, confusion matrix, reliability diagram."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.model.operating_point import OperatingPoint, pr_curve
from tweet_triage.training.evaluate import reliability_curve
from tweet_triage.training.finetune import EpochRecord


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(history: Sequence[EpochRecord], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r.epoch for r in history]
    ax.plot(epochs, [r.train_loss for r in history], "o-", label="train loss")
    ax.plot(epochs, [r.validation_loss for r in history], "o-", label="validation loss")
    ax2 = ax.twinx()
    ax2.plot(epochs, [r.validation_f1 for r in history], "s--", color="tab:green", label="validation F1")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax2.set_ylabel("F1")
    fig.legend(loc="upper right")
    ax.set_title("Fine-tuning")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def confusion_matrix(confusion: list[list[int]], labels: list[str], path: Path, title: str) -> Path:
    plt = _pyplot()
    matrix = np.array(confusion)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def reliability_diagram(
    probabilities: npt.NDArray[np.floating[Any]], y_true: npt.NDArray[np.integer[Any]], ece: float, path: Path
) -> Path:
    plt = _pyplot()
    curve = reliability_curve(probabilities, y_true)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    ax.plot([c for c, _, _ in curve], [a for _, a, _ in curve], "o-", label=f"model (ECE {ece:.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title("Reliability (test split)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def precision_recall(
    p_positive: npt.NDArray[np.floating[Any]],
    is_positive: npt.NDArray[np.bool_],
    point: OperatingPoint | None,
    path: Path,
    title: str,
) -> Path:
    """The precision-recall curve with the operating point marked."""
    plt = _pyplot()
    curve = pr_curve(p_positive, is_positive)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot(curve.recall, curve.precision, "-", label="precision-recall curve")
    if point is not None:
        ax.plot(
            [point.recall], [point.precision], "o", color="tab:red", markersize=9,
            label=f"operating point {point.policy}: p >= {point.threshold:.2f}",
        )  # fmt: skip
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
