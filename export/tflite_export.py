"""TFLite export with litert-torch (fp32, and int8 through its PT2E static quantizer), one frame per step."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from export.step_model import StepSignature

PT2E_QUANTIZED_OPS = ("linear", "addmm", "conv_relu", "conv")
"""litert-torch PT2E annotators used for int8 TFLite (its STATIC_OPS names)."""


def tflite_io_names(signature: StepSignature) -> dict[str, str]:
    """litert-torch names signature tensors args_0… and output_0…; map our logical names onto them."""
    names = {name: f"args_{i}" for i, name in enumerate(signature.all_inputs)}
    names.update({name: f"output_{i}" for i, name in enumerate(signature.all_outputs)})
    return names


def export_tflite(model: nn.Module, signature: StepSignature, path: Path,
                  calibration: Iterable[tuple[torch.Tensor, ...]] | None = None) -> Path:
    """Convert ``model`` for one frame per call; with ``calibration`` args, quantize weights and activations to int8."""
    import litert_torch

    model = model.eval()
    args = signature.example_args(n_frames=1)
    if calibration is None:
        edge_model = litert_torch.convert(model, args)
    else:
        from litert_torch.quantize import pt2e_quantizer, quant_config
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
            pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
        )
        # Same policy as the ONNX pass: only conv/linear get int8. PT2E's default also quantizes add/mul/cat,
        # i.e. the residual stream and the state concat, and the quantized state drifts over a stream
        # (separator mask correlation vs torch: 0.983 with the default ops, 0.999 with these).
        quantizer.STATIC_OPS = list(PT2E_QUANTIZED_OPS)
        prepared = prepare_pt2e(torch.export.export(model, args).module(), quantizer)
        with torch.no_grad():
            for calibration_args in calibration:
                prepared(*calibration_args)
        quantized = convert_pt2e(prepared, fold_quantize=False)
        edge_model = litert_torch.convert(quantized, args, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer))
    edge_model.export(str(path))
    return path
