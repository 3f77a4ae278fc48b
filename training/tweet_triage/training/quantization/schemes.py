"""Every candidate graph the quantization study can build from the fp32 ONNX export.

Each :class:`Candidate` writes one ONNX file and returns a description of how it was made (recorded in the model
package). ``portable`` says whether the graph's numerics are the same on every x86 int8 GEMM path: full-range
u8×s8 int8 can saturate in the AVX2 kernel of CPUs without VNNI; fp32 graphs and reduce-range (7-bit weight) int8
cannot.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from tweet_triage.errors import ModelError
from tweet_triage.training.quantization.graph import linear_matmuls
from tweet_triage.training.quantization.per_token import quantize_per_token
from tweet_triage.training.quantization.sensitivity import (
    LayerError,
    collect_activations,
    most_sensitive,
    smoothing_factors,
)

log = logging.getLogger(__name__)

NUM_HEADS: Final = 12  # all-MiniLM-L6-v2: 12 attention heads, hidden size 384
HIDDEN_SIZE: Final = 384
NBITS_BLOCK_SIZE: Final = 32  # 128 broke batch invariance in our measurements (docs/decisions.md)
SMOOTHING_BATCHES: Final = 16  # calibration feeds (of 16 tweets) the smoothing factors are fitted on


@dataclass(frozen=True)
class BuildInputs:
    """What a builder may need besides the fp32 graph."""

    calibration: Sequence[dict[str, Any]] = ()  # feeds of training tweets (static calibration)
    layer_errors: Sequence[LayerError] = ()  # each linear layer's own int8 error (mixed precision)
    mixed_fp32_layers: int = 6  # how many of the worst layers mixed precision keeps in fp32

    def keep_fp32(self, *, static: bool) -> list[str]:
        return most_sensitive(self.layer_errors, static=static)[: self.mixed_fp32_layers]

    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))


Build = Callable[[Path, Path, BuildInputs], dict[str, Any]]


@dataclass(frozen=True)
class Candidate:
    name: str
    portable: bool
    build: Build
    needs_calibration: bool = False
    needs_sensitivity: bool = False


def _fp32(src: Path, out: Path, inputs: BuildInputs) -> dict[str, Any]:
    shutil.copyfile(src, out)
    return {"format": "fp32", "note": "ONNX Runtime graph optimizations at load (ORT_ENABLE_ALL)"}


def fuse_transformer(src: Path, out: Path) -> None:
    """ONNX Runtime's transformer fusions: MultiHeadAttention, SkipLayerNormalization, BiasGelu, EmbedLayerNorm.

    Attention is fused with separate Q/K/V projections (MultiHeadAttention) rather than the packed ``Attention``
    op, so those projections stay plain MatMuls that can still be quantized.
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.use_multi_head_attention = True
    options.disable_multi_head_attention_bias = True
    model = optimize_model(
        str(src),
        model_type="bert",
        num_heads=NUM_HEADS,
        hidden_size=HIDDEN_SIZE,
        optimization_options=options,
        opt_level=0,
    )
    model.save_model_to_file(str(out))


def _fp32_fused(src: Path, out: Path, inputs: BuildInputs) -> dict[str, Any]:
    fuse_transformer(src, out)
    return {
        "format": "fp32",
        "fusions": "MultiHeadAttention, SkipLayerNormalization, BiasGelu, EmbedLayerNormalization",
    }


def _nbits8(src: Path, out: Path, inputs: BuildInputs) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(src)),
        bits=8,
        block_size=NBITS_BLOCK_SIZE,
        is_symmetric=True,
        accuracy_level=4,
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(out), use_external_data_format=False)
    return {
        "format": "MatMulNBits",
        "weights": f"int8 blocks of {NBITS_BLOCK_SIZE}",
        "activations": "int8 per row block at run time (accuracy_level 4)",
    }


def _dynamic(src: Path, out: Path, inputs: BuildInputs) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _scratch():
        quantize_dynamic(
            str(src), str(out), per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"]
        )
    return {
        "format": "DynamicQuantizeMatMul",
        "weights": "int8 per-channel",
        "activations": "uint8, one scale per batch tensor (depends on the batch-mates)",
    }


def _per_token(*, reduce_range: bool = False, fused: bool = False, mixed: bool = False, smooth: bool = False) -> Build:
    def build(src: Path, out: Path, inputs: BuildInputs) -> dict[str, Any]:
        source = src
        if fused:
            source = inputs.work_dir / f"{out.stem}.fused.onnx"
            fuse_transformer(src, source)
        keep = inputs.keep_fp32(static=False) if mixed else []
        factors = (
            smoothing_factors(collect_activations(source, inputs.calibration[:SMOOTHING_BATCHES])) if smooth else None
        )
        result = quantize_per_token(source, out, exclude=keep, reduce_range=reduce_range, smoothing=factors)
        if fused:
            source.unlink(missing_ok=True)
        return {
            "format": "per-token int8 (MatMulIntegerToFloat)",
            "weights": "int8 per output column, symmetric" + (", 7-bit range" if reduce_range else ""),
            "activations": "uint8 per token row, symmetric (zero point 128), scale from the row alone",
            "smoothing": f"{result.smoothed} of {result.shared_quantizations} activations" if smooth else "none",
            "fusions": "MultiHeadAttention, SkipLayerNormalization, BiasGelu" if fused else "none",
            "quantized_layers": len(result.quantized),
            "fp32_layers": result.kept_fp32,
        }

    return build


def _static(*, method: str, quant_format: str, mixed: bool = False) -> Build:
    def build(src: Path, out: Path, inputs: BuildInputs) -> dict[str, Any]:
        if not inputs.calibration:
            raise ModelError("static quantization needs calibration batches")
        keep = inputs.keep_fp32(static=True) if mixed else []
        layers = quantize_static_graph(
            src, out, inputs.calibration, method=method, quant_format=quant_format, exclude=keep
        )
        return {
            "format": f"static {quant_format}",
            "weights": "int8 per-channel symmetric",
            "activations": f"uint8 per tensor, {method}-calibrated on {len(inputs.calibration)} batches of "
            "training tweets",
            "quantized_layers": layers,
            "fp32_layers": keep,
        }

    return build


def quantize_static_graph(
    src: Path,
    out: Path,
    calibration: Sequence[dict[str, Any]],
    *,
    method: str,
    quant_format: str,
    exclude: Sequence[str] = (),
) -> int:
    """Static int8 of the linear layers (all but ``exclude``); returns how many layers were quantized."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    methods = {
        "MinMax": CalibrationMethod.MinMax,
        "Percentile": CalibrationMethod.Percentile,
        "Entropy": CalibrationMethod.Entropy,
    }

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    with _scratch() as scratch:
        pre = scratch / "preprocessed.onnx"
        quant_pre_process(str(src.resolve()), str(pre), skip_symbolic_shape=True)
        nodes = [lin.node for lin in linear_matmuls(onnx.load(str(pre))) if lin.node not in set(exclude)]
        quantize_static(
            str(pre),
            str(out.resolve()),
            Reader(),
            quant_format=QuantFormat.QDQ if quant_format == "QDQ" else QuantFormat.QOperator,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=nodes,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            extra_options={
                "ActivationSymmetric": False,
                "WeightSymmetric": True,
                "CalibPercentile": 99.999,
                "CalibMovingAverage": False,
            },
        )
    return len(nodes)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """ONNX Runtime's quantizers write uuid-named temporaries into the working directory: keep them out of it."""
    with tempfile.TemporaryDirectory(prefix="tweet-triage-quant-") as tmp, contextlib.chdir(tmp):
        yield Path(tmp)


CANDIDATES: Final[tuple[Candidate, ...]] = (
    Candidate("fp32", portable=True, build=_fp32),
    Candidate("fp32-fused", portable=True, build=_fp32_fused),
    Candidate("nbits8", portable=False, build=_nbits8),
    Candidate("dynamic-int8", portable=False, build=_dynamic),
    Candidate(
        "static-qdq-minmax", portable=False, build=_static(method="MinMax", quant_format="QDQ"), needs_calibration=True
    ),
    Candidate(
        "static-qdq-percentile",
        portable=False,
        build=_static(method="Percentile", quant_format="QDQ"),
        needs_calibration=True,
    ),
    Candidate(
        "static-qdq-entropy",
        portable=False,
        build=_static(method="Entropy", quant_format="QDQ"),
        needs_calibration=True,
    ),
    Candidate(
        "static-qop-minmax",
        portable=False,
        build=_static(method="MinMax", quant_format="QOperator"),
        needs_calibration=True,
    ),
    Candidate(
        "static-qdq-minmax-mixed",
        portable=False,
        build=_static(method="MinMax", quant_format="QDQ", mixed=True),
        needs_calibration=True,
        needs_sensitivity=True,
    ),
    Candidate("per-token-int8", portable=False, build=_per_token()),
    Candidate("per-token-int8-fused", portable=False, build=_per_token(fused=True)),
    Candidate("per-token-int8-rr", portable=True, build=_per_token(reduce_range=True)),
    Candidate("per-token-int8-rr-fused", portable=True, build=_per_token(reduce_range=True, fused=True)),
    Candidate("per-token-int8-mixed", portable=False, build=_per_token(mixed=True), needs_sensitivity=True),
    Candidate("per-token-int8-smooth", portable=False, build=_per_token(smooth=True), needs_calibration=True),
    Candidate(
        "per-token-int8-smooth-fused", portable=False, build=_per_token(smooth=True, fused=True), needs_calibration=True
    ),
    Candidate(
        "per-token-int8-rr-smooth",
        portable=True,
        build=_per_token(reduce_range=True, smooth=True),
        needs_calibration=True,
    ),
    Candidate(
        "per-token-int8-rr-smooth-fused",
        portable=True,
        build=_per_token(reduce_range=True, smooth=True, fused=True),
        needs_calibration=True,
    ),
)
BY_NAME: Final = {c.name: c for c in CANDIDATES}
REFERENCE: Final = "fp32"


def candidate(name: str) -> Candidate:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ModelError(f"unknown quantization candidate {name!r}; known: {', '.join(BY_NAME)}") from None


def calibration_feeds(
    token_ids: Sequence[list[int]], input_names: set[str], batch_size: int = 16
) -> list[dict[str, Any]]:
    """Padded feeds of tokenized training tweets for static calibration (never validation or test tweets)."""
    feeds = []
    for start in range(0, len(token_ids), batch_size):
        chunk = token_ids[start : start + batch_size]
        width = max(len(ids) for ids in chunk)
        ids = np.zeros((len(chunk), width), np.int64)
        mask = np.zeros((len(chunk), width), np.int64)
        for row, seq in enumerate(chunk):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds.append({k: v for k, v in feed.items() if k in input_names})
    return feeds
