"""The runner contract: one call of a model with named float tensors in and out."""

from __future__ import annotations

import abc
from pathlib import Path

import numpy as np

from edge.errors import InferenceError, PackError
from edge.pack import ArtifactSpec, ModelSpec

Signature = dict[str, tuple[tuple[int | None, ...], str]]
"""An artifact's tensors by its own name: (shape with None for a dynamic dimension, numpy dtype name)."""


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
    def signature(self) -> tuple[Signature, Signature]:
        """The loaded artifact's (inputs, outputs); integer tensors the runner (de)quantizes report as float32."""

    def check_signature(self, pack: str) -> None:
        """Raise :class:`PackError` naming the manifest field when the artifact's input/output/state names, shapes
        or dtypes differ from the manifest (a swapped artifact, a wrong state shape), before any inference."""
        where = f"models.{self.model.key}"
        inputs, outputs = self.signature()
        expected_inputs = [(f"{where}.inputs[{i}]", t.name, t.shape, t.dtype) for i, t in enumerate(self.model.inputs)]
        expected_inputs += [
            (f"{where}.states[{i}].input", s.input, s.shape, s.dtype) for i, s in enumerate(self.model.states)
        ]
        expected_outputs = [
            (f"{where}.outputs[{i}]", t.name, t.shape, t.dtype) for i, t in enumerate(self.model.outputs)
        ]
        expected_outputs += [
            (f"{where}.states[{i}].output", s.output, s.shape, s.dtype) for i, s in enumerate(self.model.states)
        ]
        for kind, actual, expected in (("input", inputs, expected_inputs), ("output", outputs, expected_outputs)):
            for field_name, logical, shape, dtype in expected:
                name = self.artifact_name(logical)
                if name not in actual:
                    raise PackError(
                        pack,
                        field_name,
                        f"names {kind} {name!r}, but {self.artifact.file} has {kind}s {sorted(actual)}",
                        f"an {kind} the artifact has",
                    )
                actual_shape, actual_dtype = actual[name]
                if not _shapes_agree(shape, actual_shape):
                    raise PackError(
                        pack,
                        f"{field_name}.shape",
                        f"is {list(shape)}, but {self.artifact.file}'s {kind} "
                        f"{name!r} is {[-1 if d is None else d for d in actual_shape]}",
                        "the artifact's shape (-1: any length)",
                    )
                if actual_dtype != dtype:
                    raise PackError(
                        pack,
                        f"{field_name}.dtype",
                        f"is {dtype}, but {self.artifact.file}'s {kind} {name!r} is {actual_dtype}",
                        "the artifact's dtype",
                    )
        fed = {self.artifact_name(logical) for _, logical, _, _ in expected_inputs}
        unfed = sorted(set(inputs) - fed)
        if unfed:
            raise PackError(
                pack,
                f"{where}.inputs",
                f"does not name {self.artifact.file}'s inputs {unfed}",
                "every input of the artifact (inputs and state inputs)",
            )

    @abc.abstractmethod
    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. ``inputs`` holds every model input and state input; returns every output and state output."""

    def frame_stepper(self) -> FrameStepper | None:
        """A cheaper way to run a one-frame stateful artifact frame after frame, the states kept by the runtime, where
        this runner has one (:class:`FrameStepper`); None: call :meth:`run` with the states."""
        return None

    def _check_outputs(self, outputs: dict[str, np.ndarray], expected: list[str]) -> dict[str, np.ndarray]:
        missing = [name for name in expected if name not in outputs]
        if missing:
            raise InferenceError(f"{self.path}: outputs {missing} missing from the model's results {sorted(outputs)}")
        return outputs


def _shapes_agree(manifest_shape: tuple[int, ...], artifact_shape: tuple[int | None, ...]) -> bool:
    """Same rank, and every dimension equal unless either side leaves it open (-1 / None)."""
    return len(manifest_shape) == len(artifact_shape) and all(
        m == -1 or a is None or m == a for m, a in zip(manifest_shape, artifact_shape)
    )


class FrameStepper(abc.ABC):
    """Runs a stateful artifact one frame per call, its states carried inside the runtime from each call to the
    next: ``step`` (1, n_bins) frame -> (1, *output shape) of the model's first output, a copy. Equal to :meth:`run`
    with each call's state outputs fed back as the next call's state inputs, starting from zero states."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Zero the states."""

    @abc.abstractmethod
    def step(self, frame: np.ndarray) -> np.ndarray:
        """Run one frame; :class:`InferenceError` naming the model for a frame of another shape or a failed run."""
