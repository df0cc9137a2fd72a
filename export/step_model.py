"""How a student is exported: its tensor names, example arguments and state layout (the step function)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class StepSignature:
    """Names and example tensors of a model exported as a step function.

    ``input_name``/``output_name`` are the feature tensors; ``state_inputs[i]`` is fed back from
    ``state_outputs[i]``. ``example_frames`` is the frame count of the example input (the frames axis is 1).
    """

    input_name: str
    output_name: str
    input_shape: tuple[int, ...]
    state_shapes: tuple[tuple[int, ...], ...] = ()
    frames_axis_dynamic: bool = True
    extra_outputs: tuple[str, ...] = ()
    """Further per-frame outputs after ``output_name`` (e.g. the separator's drum-onset probabilities)."""

    @property
    def state_inputs(self) -> tuple[str, ...]:
        return tuple(f"state_in_{i}" for i in range(len(self.state_shapes)))

    @property
    def state_outputs(self) -> tuple[str, ...]:
        return tuple(f"state_out_{i}" for i in range(len(self.state_shapes)))

    @property
    def all_inputs(self) -> tuple[str, ...]:
        return (self.input_name, *self.state_inputs)

    @property
    def all_outputs(self) -> tuple[str, ...]:
        return (self.output_name, *self.extra_outputs, *self.state_outputs)

    def example_args(self, n_frames: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(seed)
        shape = list(self.input_shape)
        if self.frames_axis_dynamic:
            shape[1] = n_frames
        features = torch.rand(shape, generator=generator) * 4.0
        return (features, *(torch.zeros(s) for s in self.state_shapes))


def run_torch(model: nn.Module, signature: StepSignature, args: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Run the PyTorch reference once and name its outputs like the exported graph."""
    with torch.no_grad():
        outputs = model(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return dict(zip(signature.all_outputs, outputs))
