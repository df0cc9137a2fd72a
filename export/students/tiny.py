"""Tiny students for the test pack: a causal dilated-conv mask separator and a context-window tagger.

Both take STFT magnitudes (n_bins = n_fft // 2 + 1) and are written as step functions with explicit state so
ONNX/TFLite exports run frame by frame on the device exactly like the whole sequence in PyTorch.
"""

from __future__ import annotations

import torch
from torch import nn


class CausalConvBlock(nn.Module):
    """Residual causal 1-D conv over frames. State: the last (kernel - 1) * dilation input frames, (1, C, H)."""

    def __init__(self, n_channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.n_history_frames = (kernel - 1) * dilation
        self.conv = nn.Conv1d(n_channels, n_channels, kernel, dilation=dilation)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (1, C, T), state: (1, C, H) -> y (1, C, T), new state (1, C, H)."""
        extended = torch.cat([state, x], dim=2)
        new_state = extended[:, :, extended.shape[2] - self.n_history_frames :]
        return x + torch.relu(self.conv(extended)), new_state


class TinySeparator(nn.Module):
    """Magnitude (1, T, n_bins) + states -> masks (1, T, n_stems, n_bins) in [0, 1] + new states.

    Algorithmic latency is one STFT window (the model looks at no future frame).
    """

    def __init__(
        self,
        n_bins: int = 257,
        n_stems: int = 4,
        n_channels: int = 48,
        kernel: int = 3,
        dilations: tuple[int, ...] = (1, 2, 4),
    ) -> None:
        super().__init__()
        self.n_bins = n_bins
        self.n_stems = n_stems
        self.n_channels = n_channels
        self.encode = nn.Linear(n_bins, n_channels)
        self.blocks = nn.ModuleList(CausalConvBlock(n_channels, kernel, d) for d in dilations)
        self.decode = nn.Linear(n_channels, n_stems * n_bins)

    def state_shapes(self) -> list[tuple[int, ...]]:
        return [(1, self.n_channels, block.n_history_frames) for block in self.blocks]

    def initial_states(self) -> list[torch.Tensor]:
        return [torch.zeros(shape) for shape in self.state_shapes()]

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = torch.relu(self.encode(torch.log1p(magnitude))).transpose(1, 2)
        new_states = []
        for block, state in zip(self.blocks, states):
            x, new_state = block(x, state)
            new_states.append(new_state)
        masks = torch.sigmoid(self.decode(x.transpose(1, 2)))
        return (masks.reshape(1, -1, self.n_stems, self.n_bins), *new_states)


UNTRAINED_LOGIT = -4.0


class TinyTagger(nn.Module):
    """Magnitude context (1, context_frames, n_bins) -> label probabilities (1, n_labels)."""

    def __init__(self, n_bins: int = 257, n_labels: int = 24, n_hidden: int = 48) -> None:
        super().__init__()
        self.frame_mlp = nn.Sequential(nn.Linear(n_bins, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_hidden), nn.ReLU())
        self.classify = nn.Linear(2 * n_hidden, n_labels)
        # An untrained tagger should say "nothing detected", not raise random alarms: start near p = 0.02.
        nn.init.constant_(self.classify.bias, UNTRAINED_LOGIT)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        h = self.frame_mlp(torch.log1p(magnitude))
        pooled = torch.cat([h.mean(dim=1), h.amax(dim=1)], dim=1)
        return torch.sigmoid(self.classify(pooled))
