"""Per-token dynamic int8: fast like dynamic quantization, batch-invariant by construction.

ONNX Runtime's dynamic quantization (``DynamicQuantizeLinear`` / ``DynamicQuantizeMatMul``) picks *one* activation
scale for the whole padded batch tensor, so a tweet's score moves with its batch-mates. Here every token row gets
its own scale, computed from that row alone, so nothing a row computes depends on another row:

    s[t]   = max(|x[t, :]|) / 127                     per token row, at run time
    q[t,:] = QuantizeLinear(x[t, :], s[t], 128)       uint8, symmetric around the zero point 128 (blocked form,
                                                      one block = one row)
    y[t,:] = s[t] · MatMulIntegerToFloat(q, Wq, w)    u8×s8 GEMM, int32 accumulation, per-column weight scale w

The activations are uint8 with zero point 128 on purpose: the u8×s8 GEMM is the fast MLAS path on AVX-512 VNNI,
AVX-VNNI and AMX, while s8×s8 took a slow path (16.7 ms instead of 0.53 ms for one 832×384×1536 product, measured).
The row quantization of one activation tensor is shared by every linear layer that reads it (Q, K and V read the
same LayerNorm output). Weights are int8 per output column, symmetric; ``reduce_range`` keeps them within ±63 so that
the 16-bit pair sums of the AVX2 kernel (CPUs without VNNI) cannot saturate (255·63·2 < 2¹⁵).

Optional smoothing (SmoothQuant's idea) divides an activation by per-channel factors before it is quantized and
multiplies the weights' rows by them: the product is unchanged, but the few outlier channels of BERT's activations
stop dictating every token's scale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tweet_triage.training.quantization.graph import LinearMatMul, linear_matmuls, unique_names, weight_array

ACTIVATION_ZERO_POINT = 128
OPSET = 21  # blocked QuantizeLinear (one block per token row)
_EPSILON = 1e-10  # a row of zeros gets a tiny scale instead of a division by zero

Factors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PerTokenResult:
    quantized: list[str]  # node names now in int8
    kept_fp32: list[str]  # linear layers left in fp32 (mixed precision)
    shared_quantizations: int  # activation tensors quantized (each may feed several layers)
    smoothed: int  # activation tensors smoothed before quantization


def quantize_per_token(
    fp32_path: Path,
    out_path: Path,
    *,
    exclude: Collection[str] = (),
    reduce_range: bool = False,
    smoothing: Mapping[str, Factors] | None = None,
) -> PerTokenResult:
    """Rewrite every linear MatMul of ``fp32_path`` (except ``exclude``) to per-token int8; save to ``out_path``.

    ``smoothing`` maps activation tensor names to per-channel factors (see
    :func:`~tweet_triage.training.quantization.sensitivity.smoothing_factors`).
    """
    import onnx
    from onnx import version_converter

    model = onnx.load(str(fp32_path))
    if _default_opset(model) < OPSET:
        model = version_converter.convert_version(model, OPSET)
    result = _Rewrite(model, reduce_range=reduce_range, smoothing=smoothing or {}).apply(exclude)
    onnx.save(model, str(out_path))
    return result


class _Rewrite:
    def __init__(self, model: Any, *, reduce_range: bool, smoothing: Mapping[str, Factors]) -> None:
        self.model = model
        self.graph = model.graph
        self.limit = 63.0 if reduce_range else 127.0
        self.smoothing = smoothing
        self._taken = unique_names(model)
        self._counter = 0
        self.inv127 = self.const(np.array(1.0 / 127.0, np.float32), "inv127")
        self.eps = self.const(np.array(_EPSILON, np.float32), "eps")
        self.one = self.const(np.array(1.0, np.float32), "one")
        self.azp = self.const(np.array(ACTIVATION_ZERO_POINT, np.uint8), "azp")
        self.last_axis = self.const(np.array([-1], np.int64), "last_axis")

    def fresh(self, stem: str) -> str:
        while True:
            self._counter += 1
            name = f"pt_{stem}_{self._counter}"
            if name not in self._taken:
                self._taken.add(name)
                return name

    def const(self, value: npt.NDArray[Any], stem: str) -> str:
        from onnx import numpy_helper

        name = self.fresh(stem)
        self.graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        from onnx import helper

        out = attrs.pop("output", None) or self.fresh(stem)
        domain = "com.microsoft" if op == "MatMulIntegerToFloat" else ""
        self._nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(op), domain=domain, **attrs))
        return out

    def apply(self, exclude: Collection[str]) -> PerTokenResult:
        from onnx import helper

        every = linear_matmuls(self.model)
        linears = [lin for lin in every if lin.node not in exclude]
        by_activation: dict[str, list[LinearMatMul]] = defaultdict(list)
        for lin in linears:
            by_activation[lin.activation].append(lin)
        inserted = {source: self._quantized_layers(source, consumers) for source, consumers in by_activation.items()}
        _splice(self.model, inserted, {lin.node for lin in linears})
        _drop_unused_initializers(self.model)
        if not any(op.domain == "com.microsoft" for op in self.model.opset_import):
            self.model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        return PerTokenResult(
            quantized=[lin.node for lin in linears],
            kept_fp32=[lin.node for lin in every if lin.node in exclude],
            shared_quantizations=len(by_activation),
            smoothed=sum(1 for source in by_activation if source in self.smoothing),
        )

    def _quantized_layers(self, source: str, consumers: list[LinearMatMul]) -> list[Any]:
        """The nodes that quantize ``source`` once per token row and feed every layer that reads it."""
        from onnx import TensorProto, helper

        self._nodes: list[Any] = []
        factors = self.smoothing.get(source)
        x = source
        if factors is not None:
            x = self.node("Mul", [source, self.const((1.0 / factors).astype(np.float32), "inv_smooth")], "smoothed")
        row_max = self.node("ReduceMax", [self.node("Abs", [x], "abs"), self.last_axis], "row_max", keepdims=1)
        row_scale = self.node("Max", [self.node("Mul", [row_max, self.inv127], "raw_scale"), self.eps], "row_scale")
        zero_point = self.node(
            "ConstantOfShape",
            [self.node("Shape", [row_scale], "scale_shape")],
            "zero_point",
            value=helper.make_tensor("zp", TensorProto.UINT8, [1], [ACTIVATION_ZERO_POINT]),
        )
        k = consumers[0].k
        quantized = self.node("QuantizeLinear", [x, row_scale, zero_point], "q", axis=-1, block_size=k)
        for lin in consumers:
            w = weight_array(self.model, lin.weight)
            if factors is not None:
                w = w * factors[:, None]
            w_scale = np.maximum(np.abs(w).max(axis=0) / self.limit, _EPSILON).astype(np.float32)
            w_q = np.clip(np.rint(w / w_scale), -self.limit, self.limit).astype(np.int8)
            product = self.node(
                "MatMulIntegerToFloat",
                [
                    quantized,
                    self.const(w_q, "wq"),
                    self.one,
                    self.const(w_scale, "w_scale"),
                    self.azp,
                    self.const(np.zeros(lin.n, np.int8), "w_zp"),
                ],
                "product",
            )
            self.node("Mul", [product, row_scale], "scaled", output=lin.output)
        return self._nodes


def _default_opset(model: Any) -> int:
    return next((int(op.version) for op in model.opset_import if op.domain in ("", "ai.onnx")), 0)


def _splice(model: Any, inserted: dict[str, list[Any]], replaced: set[str]) -> None:
    """Replace the quantized MatMuls; each activation's new nodes go where its first consumer was (topological)."""
    out = []
    placed: set[str] = set()
    for node in model.graph.node:
        if node.name in replaced:
            source = node.input[0]
            if source not in placed:
                out.extend(inserted[source])
                placed.add(source)
            continue
        out.append(node)
    del model.graph.node[:]
    model.graph.node.extend(out)


def _drop_unused_initializers(model: Any) -> None:
    used = {name for node in model.graph.node for name in node.input}
    keep = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
