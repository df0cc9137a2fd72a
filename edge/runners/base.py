"""The runner contract: one call of a model with named float tensors in and out."""

from __future__ import annotations

import abc
from pathlib import Path

import numpy as np

from edge.errors import InferenceError
from edge.pack import ArtifactSpec, ModelSpec


class ModelRunner(abc.ABC):
    """Runs one artifact. ``run`` takes and returns tensors by their manifest (logical) names."""

    runtime: str

    def __init__(self, model: ModelSpec, artifact: ArtifactSpec, path: Path, n_threads: int) -> None:
        if n_threads < 1:
            raise InferenceError(f"model '{model.key}': thread count must be >= 1, got {n_threads}")
        self.model = model
        self.artifact = artifact
        self.path = path
        self.n_threads = n_threads

    @property
    def frames_per_step(self) -> int | None:
        """None: any number of frames per call; else the artifact's fixed frame count."""
        return self.artifact.frames_per_step

    def artifact_name(self, logical: str) -> str:
        return self.artifact.io_names.get(logical, logical)

    @abc.abstractmethod
    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. ``inputs`` holds every model input and state input; returns every output and state output."""

    def _check_outputs(self, outputs: dict[str, np.ndarray], expected: list[str]) -> dict[str, np.ndarray]:
        missing = [name for name in expected if name not in outputs]
        if missing:
            raise InferenceError(f"{self.path}: outputs {missing} missing from the model's results {sorted(outputs)}")
        return outputs
