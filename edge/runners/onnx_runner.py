"""ONNX Runtime runner (CPU execution provider, explicit thread count)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import InferenceError
from edge.pack import ArtifactSpec, ModelSpec
from edge.runners.base import ModelRunner, Signature

_ONNX_DTYPES = {"float": "float32", "double": "float64", "float16": "float16"}


class OnnxRunner(ModelRunner):
    runtime = "onnx"

    def __init__(self, model: ModelSpec, artifact: ArtifactSpec, path: Path, n_threads: int) -> None:
        super().__init__(model, artifact, path, n_threads)
        ort = require("onnxruntime", "onnx", "running ONNX models")
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise InferenceError(f"{path}: onnxruntime cannot load this model: {error}") from None
        self._output_names = [o.name for o in self._session.get_outputs()]
        self._to_logical = {
            self.artifact_name(name): name
            for name in [t.name for t in model.outputs] + [s.output for s in model.states]
        }

    def signature(self) -> tuple[Signature, Signature]:
        def of(tensors: list) -> Signature:
            return {
                t.name: (
                    tuple(d if isinstance(d, int) else None for d in t.shape),
                    _ONNX_DTYPES.get(t.type[7:-1], t.type[7:-1]),
                )
                for t in tensors
            }  # "tensor(float)"

        return of(self._session.get_inputs()), of(self._session.get_outputs())

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {self.artifact_name(name): value for name, value in inputs.items()}
        try:
            results = self._session.run(self._output_names, feed)
        except Exception as error:
            raise InferenceError(f"{self.path}: onnxruntime run failed: {error}") from None
        outputs = {self._to_logical.get(name, name): value for name, value in zip(self._output_names, results)}
        return self._check_outputs(outputs, list(self._to_logical.values()))
