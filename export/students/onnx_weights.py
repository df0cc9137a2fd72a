"""Warm start: a student's weights read back from an exported fp32 ONNX artifact of the same architecture.

Named initializers (biases, norms, convolutions) map by name (an older layout of a parameter with the same number of
values loads through the model's own ``_load_from_state_dict``, e.g. the separator's convs from before frames left
the innermost axis). ``torch.onnx.export`` stores each Linear weight
transposed under a generated name (``onnx::MatMul_<n>``), in the order the graph uses them, which is the call
order; they are matched in that order by shape. Layers a model runs batched (the separator's band encoders and
decoders: one MatMul each for all bands, whose stacked weights the exporter folds into generated initializers) are
read from the initializers of their module's MatMul and Add through the model's ``unstacked_parameters``; in an
older graph that ran them one by one they are Linears like any other. The result is checked by running both on
the same input: a mismatch is a ConfigError, never a silently wrong start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge.errors import ConfigError

PARITY_TOLERANCE = 1e-4


def load_weights_from_onnx(model: nn.Module, onnx_path: Path, example_args: tuple[torch.Tensor, ...]) -> list[str]:
    """Copy ``onnx_path``'s weights into ``model`` (parameters absent from the artifact keep their values);
    returns the names of the parameters left as they were. Checks the first output against onnxruntime."""
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    named = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    matmuls: list[str] = []  # generated Linear weight names in the order the graph first uses them
    for node in graph.node:
        matmuls += [
            name
            for name in node.input
            if name.startswith("onnx::MatMul_") and name not in matmuls and named[name].ndim == 2
        ]
    state = model.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    for key, value in state.items():  # same shape, or an older layout of it that the model turns as it loads
        if key in named and named[key].size == value.numel():
            loaded[key] = torch.from_numpy(named[key].copy())
    loaded.update(_unstacked_weights(model, graph, named, state))
    position = 0
    for key in _linear_call_order(model, example_args):
        weight = f"{key}.weight"
        if weight in loaded:
            continue
        if position < len(matmuls) and tuple(named[matmuls[position]].shape) == tuple(state[weight].T.shape):
            loaded[weight] = torch.from_numpy(named[matmuls[position]].T.copy())
            position += 1
    try:
        model.load_state_dict({**state, **loaded})
    except RuntimeError as error:  # an initializer of the right size but another layout
        raise ConfigError(
            f"warm start from {onnx_path}: the student does not reproduce the artifact "
            f"({str(error).splitlines()[-1].strip()[:200]}); is the architecture the same?"
        ) from error
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {node.name: _in_layout(arg.numpy(), node.shape) for node, arg in zip(session.get_inputs(), example_args)}
    try:
        expected = session.run(None, feeds)[0]
    except Exception as error:  # noqa: BLE001 - onnxruntime raises several types for inputs of the wrong shape
        raise ConfigError(
            f"warm start from {onnx_path}: the student does not reproduce the artifact (its inputs "
            f"do not fit: {str(error).splitlines()[0][:200]}); is the architecture the same?"
        ) from error
    with torch.no_grad():
        outputs = model(*example_args)
        actual = (outputs[0] if isinstance(outputs, tuple) else outputs).numpy()
    error = float(np.abs(expected - actual).max()) if expected.shape == actual.shape else float("inf")
    if error > PARITY_TOLERANCE:
        raise ConfigError(
            f"warm start from {onnx_path}: the student does not reproduce the artifact "
            f"(max |difference| {error:.3g} > {PARITY_TOLERANCE}); is the architecture the same?"
        )
    return [key for key in state if key not in loaded]


def _in_layout(value: np.ndarray, shape: list[Any]) -> np.ndarray:
    """``value`` for an input of ``shape``: a zero state of the same size in the artifact's own layout when that
    differs (an older graph's state layout), else ``value`` itself."""
    fixed = all(isinstance(size, int) for size in shape)
    if fixed and tuple(shape) != value.shape and int(np.prod(shape)) == value.size and not value.any():
        return np.zeros(shape, value.dtype)
    return value


STACKED_OP_TYPES = ("MatMul", "Add")
"""A batched layer's weight and bias: the initializers of its module's first MatMul and first Add."""


def _unstacked_weights(
    model: nn.Module, graph: Any, named: dict[str, np.ndarray], state: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Parameters of the layers ``model`` runs batched, from the artifact's nodes of the modules it names in
    ``STACKED_MODULES`` (none when the artifact has no such nodes, e.g. a graph that ran them one by one)."""
    loaded: dict[str, torch.Tensor] = {}
    for module in getattr(model, "STACKED_MODULES", ()):
        stacked = [
            next(
                (
                    name
                    for node in graph.node
                    if node.op_type == op_type and node.name.startswith(f"/{module}/")
                    for name in node.input
                    if name in named
                ),
                None,
            )
            for op_type in STACKED_OP_TYPES
        ]
        if None in stacked:
            continue
        weight, bias = (torch.from_numpy(named[name].copy()) for name in stacked)
        try:
            parameters = model.unstacked_parameters(module, weight, bias)  # type: ignore[operator]
        except (RuntimeError, IndexError):  # stacked weights of another shape: left to the parity check
            continue
        loaded.update({key: value for key, value in parameters.items() if value.shape == state[key].shape})
    return loaded


def _linear_call_order(model: nn.Module, example_args: tuple[torch.Tensor, ...]) -> list[str]:
    """Names of ``model``'s Linear layers in the order one forward pass calls them; a Linear the pass does not call
    itself (a band encoder or decoder the separator runs batched) keeps its place after the Linear before it in
    module order, which is where a graph that called it one by one used it."""
    order: list[str] = []
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    hooks = [
        model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: order.append(name))
        for name in linears
    ]
    try:
        with torch.no_grad():
            model(*example_args)
    finally:
        for hook in hooks:
            hook.remove()
    order = list(dict.fromkeys(order))
    for index, name in enumerate(linears):
        if name not in order:
            order.insert(order.index(linears[index - 1]) + 1 if index else 0, name)
    return order


def load_batchnorm_folded_weights(model: nn.Module, onnx_path: Path, example_args: tuple[torch.Tensor, ...]) -> None:
    """Copy an artifact whose Conv+BatchNorm pairs were folded into Convs (as ``torch.onnx.export`` does in eval
    mode) into ``model``: each Conv gets the folded weight, the BatchNorm after it becomes the identity plus the
    folded bias (running mean 0, running variance 1 - eps, scale 1). Named initializers and Linear weights load as
    in :func:`load_weights_from_onnx`. Keep such BatchNorms in eval mode when fine-tuning (their statistics are
    gone). Checked against onnxruntime like :func:`load_weights_from_onnx`."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    named = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    conv_inputs: list[str] = []
    for node in graph.node:
        if node.op_type == "Conv":
            conv_inputs += [name for name in node.input[1:] if name in named]
    pairs = iter(zip(conv_inputs[0::2], conv_inputs[1::2]))
    with torch.no_grad():
        modules = list(model.modules())
        for index, module in enumerate(modules):
            if isinstance(module, nn.Conv2d):
                weight_name, bias_name = next(pairs)
                module.weight.copy_(torch.from_numpy(named[weight_name].copy()))
                norm = modules[index + 1] if index + 1 < len(modules) else None
                if not isinstance(norm, nn.BatchNorm2d):
                    raise ConfigError(f"{onnx_path}: a Conv without a BatchNorm after it; not a folded Conv+BN model")
                norm.weight.fill_(1.0)
                norm.bias.copy_(torch.from_numpy(named[bias_name].copy()))
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0 - norm.eps)
    load_weights_from_onnx(model, onnx_path, example_args)
