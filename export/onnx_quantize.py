"""int8 static QDQ quantization of ONNX step models with calibration from audio features.

Only Conv/MatMul/Gemm are quantized (less the submodules a model keeps float, e.g. the tagger's mel projection);
graph inputs/outputs — including the recurrent state tensors — stay float
(quantized state drifts over a long stream).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edge.errors import ConfigError

QUANTIZED_OP_TYPES = ["Conv", "MatMul", "Gemm"]


def quantize_onnx_int8(
    fp32_path: Path,
    int8_path: Path,
    calibration_feeds: Iterable[dict[str, np.ndarray]],
    float_modules: tuple[str, ...] = (),
) -> Path:
    """Write a QDQ int8 copy of ``fp32_path`` calibrated on ``calibration_feeds`` (input name -> array); the nodes
    of the torch submodules named in ``float_modules`` (ONNX node names ``/<module>/...``) stay float."""
    import onnx

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self._iterator = iter(list(calibration_feeds))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._iterator, None)

    prepared = int8_path.with_suffix(".prep.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    excluded = [
        node.name
        for node in onnx.load(str(prepared)).graph.node
        if any(node.name.startswith(f"/{module}/") for module in float_modules)
    ]
    missing = [module for module in float_modules if not any(name.startswith(f"/{module}/") for name in excluded)]
    if missing:
        raise ConfigError(f"{fp32_path}: no ONNX node of the modules {missing} to keep float")
    try:
        quantize_static(
            str(prepared),
            str(int8_path),
            _Feeds(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=QUANTIZED_OP_TYPES,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=excluded,
        )
    finally:
        prepared.unlink(missing_ok=True)
    return int8_path
