"""ONNX export (optimum) with a second `embedding` output, and batch-invariant int8 quantization.

Why not plain dynamic quantization: ONNX Runtime's DynamicQuantizeLinear picks one activation scale for the whole
(padded) batch tensor, so a tweet's score depends on which other tweets share its batch (up to 0.33 in probability
measured here). For audit reproducibility a tweet must score the same alone or in any batch. Two schemes quantize
activations independently of the other rows:

* ``nbits8`` (default): 8-bit weights in ONNX Runtime's MatMulNBits with block size 32 and ``accuracy_level=4``, so
  activations are quantized to int8 per row and per 32-wide block at run time. Measured: batch difference exactly 0,
  F1 identical to fp32, 100 % label agreement. Block size 128 was *not* batch-invariant (different kernel path for a
  single row), so the block size is pinned and the pipeline measures invariance on every test tweet.
* ``static``: QDQ with scales fixed at calibration time (per-channel weights, Linear layers only). Exactly
  batch-invariant too, but per-tensor activation scales cannot follow BERT's activation outliers: about 5 % of labels
  flipped and F1 fell 0.012 in our measurement, outside the 0.01 budget.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tweet_triage.errors import ModelError
from tweet_triage.model.package import EMBEDDING_OUTPUT, LOGITS_OUTPUT

log = logging.getLogger(__name__)

QuantScheme = Literal["static", "nbits8"]
ONNX_OPSET = 18


def export_onnx(model_dir: Path, out_dir: Path) -> Path:
    """Export the fine-tuned classifier with optimum, then expose the pooled sentence representation."""
    from optimum.exporters.onnx import main_export

    out_dir.mkdir(parents=True, exist_ok=True)
    main_export(
        str(model_dir),
        output=str(out_dir),
        task="text-classification",
        opset=ONNX_OPSET,
        do_validation=False,
        local_files_only=True,
    )
    path = out_dir / "model.onnx"
    add_embedding_output(path)
    return path


def add_embedding_output(path: Path) -> None:
    """Make the classifier's input (BERT's pooled [CLS] representation) a second graph output named `embedding`.

    The drift monitor measures drift on exactly the representation the classifier decides on, at no extra cost.
    """
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    graph = model.graph
    if EMBEDDING_OUTPUT in {o.name for o in graph.output}:
        return
    if LOGITS_OUTPUT not in {o.name for o in graph.output}:
        raise ModelError(f"{path}: exported graph has no {LOGITS_OUTPUT!r} output")
    tanh = [node for node in graph.node if node.op_type == "Tanh"]
    if not tanh:
        raise ModelError(f"{path}: no pooler (Tanh) node to take the embedding from")
    pooled = next((n for n in tanh if "pooler" in n.name), tanh[-1]).output[0]
    graph.node.append(helper.make_node("Identity", [pooled], [EMBEDDING_OUTPUT], name="tweet_triage_embedding"))
    graph.output.append(helper.make_tensor_value_info(EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(path))


@dataclass(frozen=True)
class CalibrationBatches:
    """Tokenized training tweets for static calibration (never validation or test tweets)."""

    batches: list[dict[str, Any]]

    @classmethod
    def from_token_ids(
        cls, token_ids: Sequence[list[int]], input_names: set[str], batch_size: int = 16
    ) -> CalibrationBatches:
        batches = []
        for start in range(0, len(token_ids), batch_size):
            chunk = token_ids[start : start + batch_size]
            width = max(len(ids) for ids in chunk)
            ids = np.zeros((len(chunk), width), np.int64)
            mask = np.zeros((len(chunk), width), np.int64)
            for row, seq in enumerate(chunk):
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            batches.append({k: v for k, v in feed.items() if k in input_names})
        return cls(batches)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.batches)


def quantize(
    fp32_path: Path, out_path: Path, scheme: QuantScheme, calibration: CalibrationBatches | None
) -> dict[str, Any]:
    """Write the int8 model; returns a description of the scheme for the package metadata."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if scheme == "static":
        if calibration is None:
            raise ModelError("static quantization needs calibration batches")
        return _quantize_static(fp32_path, out_path, calibration)
    if scheme == "nbits8":
        return _quantize_nbits8(fp32_path, out_path)
    raise ModelError(f"unknown quantization scheme {scheme!r}")


def _linear_matmuls(model: Any) -> list[str]:
    initializers = {init.name for init in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and n.input[1] in initializers]


def _quantize_static(fp32_path: Path, out_path: Path, calibration: CalibrationBatches) -> dict[str, Any]:
    pre = out_path.with_name("preprocessed.onnx").resolve()
    # Calibration writes uuid-named external-data temporaries into the working directory: keep them out of it.
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        quantized_nodes = _static_in_place(fp32_path.resolve(), pre, out_path.resolve(), calibration)
    pre.unlink(missing_ok=True)
    return {
        "scheme": "static",
        "format": "QDQ",
        "weights": "int8 per-channel symmetric",
        "activations": "uint8 per-tensor, MinMax-calibrated on training tweets",
        "quantized_nodes": quantized_nodes,
        "calibration_batches": len(calibration.batches),
    }


def _static_in_place(fp32_path: Path, pre: Path, out_path: Path, calibration: CalibrationBatches) -> int:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
    nodes = _linear_matmuls(onnx.load(str(pre)))
    quantize_static(
        str(pre),
        str(out_path),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul", "Gemm"],
        nodes_to_quantize=nodes,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )
    return len(nodes)


NBITS_BLOCK_SIZE = 32  # 128 broke batch invariance in our measurements; keep 32


def _quantize_nbits8(fp32_path: Path, out_path: Path, block_size: int = NBITS_BLOCK_SIZE) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(fp32_path)),
        bits=8,
        block_size=block_size,
        is_symmetric=True,
        accuracy_level=4,
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(out_path), use_external_data_format=False)
    return {
        "scheme": "nbits8",
        "format": "MatMulNBits",
        "weights": f"int8 blocks of {block_size}",
        "activations": "int8 per row block at run time (accuracy_level 4)",
    }


def copy_tokenizer(model_dir: Path, target: Path) -> None:
    from transformers import AutoTokenizer

    target.mkdir(parents=True, exist_ok=True)
    AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True).save_pretrained(str(target))
    for stray in target.glob("*.onnx"):
        stray.unlink()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
