"""LiteRT runner: ``ai_edge_litert`` (falling back to ``tflite_runtime``), via the model's signature runner."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import InferenceError, MissingExtraError
from edge.pack import ArtifactSpec, ModelSpec
from edge.runners.base import ModelRunner


def _interpreter_class() -> Any:
    for module_name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            return importlib.import_module(module_name).Interpreter
        except ImportError:
            continue
    raise MissingExtraError("ai_edge_litert", "litert", "running TFLite models")


def _integer_quantization(details: dict[str, dict[str, Any]]) -> dict[str, tuple[float, int, type]]:
    """Tensors the model takes or gives as integers: name -> (scale, zero_point, dtype) to (de)quantize with."""
    return {name: (float(d["quantization"][0]), int(d["quantization"][1]), d["dtype"])
            for name, d in details.items() if np.issubdtype(d["dtype"], np.integer) and d["quantization"][0] > 0}


class LiteRtRunner(ModelRunner):
    runtime = "litert"

    def __init__(self, model: ModelSpec, artifact: ArtifactSpec, path: Path, n_threads: int) -> None:
        super().__init__(model, artifact, path, n_threads)
        try:
            self._interpreter = _interpreter_class()(model_path=str(path), num_threads=n_threads)
            self._signature = self._interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as error:
            raise InferenceError(f"{path}: LiteRT cannot load this model: {error}") from None
        self._to_logical = {self.artifact_name(name): name for name in
                            [t.name for t in model.outputs] + [s.output for s in model.states]}
        self._input_quantization = _integer_quantization(self._signature.get_input_details())
        self._output_quantization = _integer_quantization(self._signature.get_output_details())

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {}
        for name, value in inputs.items():
            artifact_name = self.artifact_name(name)
            if artifact_name in self._input_quantization:
                scale, zero_point, dtype = self._input_quantization[artifact_name]
                info = np.iinfo(dtype)
                value = np.clip(np.round(value / scale) + zero_point, info.min, info.max).astype(dtype)
            feed[artifact_name] = np.ascontiguousarray(value)
        try:
            results = self._signature(**feed)
        except (ValueError, RuntimeError) as error:
            raise InferenceError(f"{self.path}: LiteRT run failed: {error}") from None
        outputs = {}
        for name, value in results.items():
            if name in self._output_quantization:
                scale, zero_point, _ = self._output_quantization[name]
                value = (value.astype(np.float32) - zero_point) * np.float32(scale)
            outputs[self._to_logical.get(name, name)] = np.asarray(value)
        return self._check_outputs(outputs, list(self._to_logical.values()))
