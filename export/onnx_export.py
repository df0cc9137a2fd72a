"""ONNX export of a step model (frames axis dynamic, explicit state in and out)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from export.step_model import StepSignature

ONNX_OPSET = 17


def export_onnx(model: nn.Module, signature: StepSignature, path: Path) -> Path:
    """Write ``model`` to ``path`` as ONNX with named inputs/outputs; the frames axis (1) stays dynamic."""
    model = model.eval()
    args = signature.example_args(n_frames=3)
    dynamic_axes = (
        {name: {1: "frames"} for name in (signature.input_name, signature.output_name, *signature.extra_outputs)}
        if signature.frames_axis_dynamic
        else None
    )
    torch.onnx.export(
        model,
        args,
        str(path),
        input_names=list(signature.all_inputs),
        output_names=list(signature.all_outputs),
        dynamic_axes=dynamic_axes,
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
    return path
