"""Small helpers over ONNX graphs that the quantization schemes share: which MatMuls are linear layers, and names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class LinearMatMul:
    """A MatMul whose second input is a constant 2-D weight: a linear layer, the thing worth quantizing."""

    node: str  # node name
    activation: str  # the input tensor (what is quantized at run time)
    weight: str  # initializer name, shape [K, N]
    output: str
    k: int
    n: int


def initializers(model: Any) -> dict[str, Any]:
    return {init.name: init for init in model.graph.initializer}


def linear_matmuls(model: Any) -> list[LinearMatMul]:
    """Every MatMul of ``model`` that multiplies an activation by a 2-D float initializer, in graph order."""
    from onnx import TensorProto

    weights = initializers(model)
    found = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in weights:
            continue
        weight = weights[node.input[1]]
        if len(weight.dims) != 2 or weight.data_type != TensorProto.FLOAT:
            continue
        found.append(
            LinearMatMul(
                node.name, node.input[0], node.input[1], node.output[0], int(weight.dims[0]), int(weight.dims[1])
            )
        )
    return found


def activation_matmuls(model: Any) -> list[str]:
    """MatMuls of two activations (attention scores QKᵀ and softmax·V): no weight to quantize ahead of time."""
    weights = initializers(model)
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] not in weights]


def weight_array(model: Any, name: str) -> npt.NDArray[np.float32]:
    from onnx import numpy_helper

    return np.asarray(numpy_helper.to_array(initializers(model)[name]), dtype=np.float32)


def unique_names(model: Any) -> set[str]:
    """Every tensor and node name in use (to create new ones that collide with nothing)."""
    names = {init.name for init in model.graph.initializer}
    for node in model.graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    names.update(i.name for i in model.graph.input)
    names.update(o.name for o in model.graph.output)
    return names


def describe_nodes(names: Iterable[str]) -> list[str]:
    """Short, readable node names for reports (``/bert/encoder/layer.3/output/dense/MatMul`` → ``layer.3/output``)."""
    short = []
    for name in names:
        parts = [p for p in name.split("/") if p and p not in ("bert", "encoder", "MatMul", "dense")]
        short.append("/".join(parts) or name)
    return short
