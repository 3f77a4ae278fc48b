"""How much each linear layer suffers from int8, measured one layer at a time on real activations.

The fp32 graph runs on calibration tweets with every linear layer's input exposed as an extra output; for each
layer the product with int8 activations and int8 weights is compared with the fp32 product (relative Frobenius
error), for per-token scales and for one static per-tensor MinMax range. Mixed precision keeps the worst layers in
fp32. Each layer is judged with exact fp32 inputs, so errors do not compound here — what compounds is measured by
the study on the whole graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from tweet_triage.training.quantization.graph import LinearMatMul, linear_matmuls, weight_array

MAX_ROWS = 4096  # token rows per layer: plenty for a stable estimate, bounded memory

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LayerError:
    node: str
    per_token: float
    static: float


def collect_activations(fp32_path: Path, feeds: Sequence[dict[str, Any]], *, threads: int = 2) -> Activations:
    """Run the fp32 graph on ``feeds`` and keep every linear layer's input rows (real tokens only, at most
    :data:`MAX_ROWS` per tensor)."""
    import onnx

    model = onnx.load(str(fp32_path))
    linears = linear_matmuls(model)
    names = sorted({lin.activation for lin in linears})
    known = {o.name for o in model.graph.output}
    for name in names:
        if name not in known:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every exposed tensor
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rows: dict[str, list[Array]] = {name: [] for name in names}
    for feed in feeds:
        mask = feed["attention_mask"].astype(bool)
        for name, value in zip(names, session.run(names, feed), strict=True):
            rows[name].append(np.asarray(value, np.float32)[mask])  # [tokens, K]
    return Activations(model, linears, {name: np.concatenate(parts)[:MAX_ROWS] for name, parts in rows.items()})


@dataclass(frozen=True)
class Activations:
    model: Any
    linears: list[LinearMatMul]
    rows: dict[str, Array]  # activation tensor name -> [tokens, K]


def layer_errors(acts: Activations) -> list[LayerError]:
    """Each linear layer's relative output error under per-token and static int8, in graph order."""
    results = []
    for lin in acts.linears:
        x = acts.rows[lin.activation]
        w = weight_array(acts.model, lin.weight)
        exact = x @ w
        norm = float(np.linalg.norm(exact)) or 1.0
        wq = _per_column(w)
        results.append(
            LayerError(
                lin.node,
                per_token=float(np.linalg.norm(_per_token(x) @ wq - exact)) / norm,
                static=float(np.linalg.norm(_static(x) @ wq - exact)) / norm,
            )
        )
    return results


SMOOTHING_ALPHAS = (0.0, 0.25, 0.5, 0.75)


def smoothing_factors(acts: Activations, alphas: Sequence[float] = SMOOTHING_ALPHAS) -> dict[str, Array]:
    """Per-channel factors s that move activation outliers into the weights (x/s · diag(s)W = xW), SmoothQuant
    style, with the migration strength α chosen per activation tensor by the per-token int8 error it leaves
    (summed over every layer that reads the tensor). α = 0 means no smoothing: such tensors are left out."""
    by_activation: dict[str, list[LinearMatMul]] = {}
    for lin in acts.linears:
        by_activation.setdefault(lin.activation, []).append(lin)
    chosen: dict[str, Array] = {}
    for name, consumers in by_activation.items():
        x = acts.rows[name]
        weights = [weight_array(acts.model, lin.weight) for lin in consumers]
        exact = [x @ w for w in weights]
        x_max = np.maximum(np.abs(x).max(axis=0), 1e-5)
        w_max = np.maximum(np.max([np.abs(w).max(axis=1) for w in weights], axis=0), 1e-5)
        best: tuple[float, Array | None] = (float("inf"), None)
        for alpha in alphas:
            factors = np.maximum(x_max**alpha / w_max ** (1 - alpha), 1e-5).astype(np.float32) if alpha else None
            xs = _per_token(x / factors) if factors is not None else _per_token(x)
            error = 0.0
            for w, y in zip(weights, exact, strict=True):
                ws = _per_column(w * factors[:, None]) if factors is not None else _per_column(w)
                error += float(np.linalg.norm(xs @ ws - y)) / (float(np.linalg.norm(y)) or 1.0)
            if error < best[0]:
                best = (error, factors)
        if best[1] is not None:
            chosen[name] = best[1]
    return chosen


def most_sensitive(errors: Sequence[LayerError], *, static: bool) -> list[str]:
    """Layer names, worst first."""
    return [e.node for e in sorted(errors, key=lambda e: e.static if static else e.per_token, reverse=True)]


def _per_token(x: Array) -> Array:
    scale = np.maximum(np.abs(x).max(axis=1, keepdims=True) / 127.0, 1e-10)
    quantized: Array = (np.clip(np.rint(x / scale), -127, 127) * scale).astype(np.float32)
    return quantized


def _static(x: Array) -> Array:
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (high - low) / 255.0 or 1.0
    zero = np.rint(-low / scale)
    quantized: Array = ((np.clip(np.rint(x / scale) + zero, 0, 255) - zero) * scale).astype(np.float32)
    return quantized


def _per_column(w: Array) -> Array:
    scale = np.maximum(np.abs(w).max(axis=0) / 127.0, 1e-10)
    quantized: Array = (np.clip(np.rint(w / scale), -127, 127) * scale).astype(np.float32)
    return quantized
