"""ONNX export (optimum) with a second `embedding` output; the tokenizer files a package ships.

Quantization of the exported graph is chosen by measurement: see :mod:`tweet_triage.training.quantization`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from tweet_triage.errors import ModelError
from tweet_triage.model.package import EMBEDDING_OUTPUT, LOGITS_OUTPUT

log = logging.getLogger(__name__)

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


def copy_tokenizer(model_dir: Path, target: Path) -> None:
    from transformers import AutoTokenizer

    target.mkdir(parents=True, exist_ok=True)
    AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True).save_pretrained(str(target))
    for stray in target.glob("*.onnx"):
        stray.unlink()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
