"""Parameter and multiply-accumulate counts of student models (for the manifest and the model card)."""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, args: tuple[torch.Tensor, ...]) -> int:
    """MACs of one forward call on ``args``, counted over Linear and Conv1d/Conv2d layers (the dominant cost)."""
    total = 0

    def on_linear(module: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    def on_conv(module: nn.modules.conv._ConvNd, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kernel_elements = int(torch.tensor(module.kernel_size).prod())
        total += output.numel() * kernel_elements * module.in_channels // module.groups

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(on_linear))
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            handles.append(module.register_forward_hook(on_conv))
    try:
        with torch.no_grad():
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
    return total
