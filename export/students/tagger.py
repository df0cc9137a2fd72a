"""A streaming MobileNet-style tagger (in the spirit of EfficientAT) on the device's STFT magnitudes.

    magnitude context (B, context_frames, n_bins)
    -> average over groups of ``time_pool`` frames  -> (B, context_frames / time_pool, n_bins)
    -> Linear n_bins -> n_mels (initialised as a mel filterbank, trainable), log1p
    -> conv stem + inverted-residual blocks (depthwise 3x3 + pointwise, BatchNorm, ReLU6)
    -> mean + max pooling -> Linear -> sigmoid -> probabilities (B, n_labels)

Pooling before the mel projection costs nothing in accuracy (both are linear) and a quarter of the MACs.
The edge runtime calls it every ``every_n_hops`` hops on the last ``context_frames`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.stream import DEVICE_STREAM
import torch
from torch import nn

UNTRAINED_LOGIT = -4.0
"""Initial output bias: an untrained tagger says 'nothing detected' (p ~ 0.02) rather than random alarms."""


def mel_filterbank(
    n_bins: int, n_mels: int, sample_rate_hz: int, f_min_hz: float = 40.0, f_max_hz: float | None = None
) -> np.ndarray:
    """(n_bins, n_mels) triangular HTK-mel filters (no area normalisation) over rfft bins 0..sample_rate/2."""

    def to_mel(f_hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f_hz / 700.0)

    def to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    bin_hz = np.linspace(0.0, sample_rate_hz / 2, n_bins)
    edges_hz = to_hz(
        np.linspace(to_mel(np.array(f_min_hz)), to_mel(np.array(f_max_hz or sample_rate_hz / 2)), n_mels + 2)
    )
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


@dataclass(frozen=True)
class TaggerConfig:
    n_bins: int = 257
    n_labels: int = 31
    context_frames: int = 120
    time_pool: int = 4
    n_mels: int = 40
    sample_rate_hz: int = DEVICE_STREAM.sample_rate_hz
    stem_channels: int = 16
    blocks: tuple[tuple[int, int, int], ...] = ((24, 2, 2), (32, 1, 2), (48, 2, 2), (64, 1, 2), (96, 2, 2), (96, 1, 2))
    """(out_channels, stride, expansion) of each inverted-residual block."""
    n_hidden: int = 128


def _conv_bn(
    in_channels: int, out_channels: int, kernel: int, stride: int, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: pointwise expand, depthwise 3x3 (stride), pointwise project; residual when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        self.body = nn.Sequential(
            _conv_bn(in_channels, hidden, 1, 1),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn(hidden, out_channels, 1, 1, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.use_residual else self.body(x)


class MobileTagger(nn.Module):
    """(B, context_frames, n_bins) magnitude -> (B, n_labels) probabilities."""

    FLOAT_IN_INT8 = ("mel",)
    """Submodules the int8 artifacts keep in float: the mel projection reads linear magnitudes spanning ~80 dB, and
    one int8 scale set by loud frames rounds quiet sounds to zero (sense-default 0.3.0, held-out: wind AP 0.53 in
    fp32, 0.05 with the projection in int8). It is ~15 % of the tagger's MACs."""

    def __init__(self, config: TaggerConfig = TaggerConfig()) -> None:
        super().__init__()
        if config.context_frames % config.time_pool:
            raise ValueError(
                f"context_frames {config.context_frames} must be a multiple of time_pool {config.time_pool}"
            )
        self.config = config
        self.mel = nn.Linear(config.n_bins, config.n_mels, bias=False)
        with torch.no_grad():
            self.mel.weight.copy_(
                torch.from_numpy(mel_filterbank(config.n_bins, config.n_mels, config.sample_rate_hz).T)
            )
        self.stem = _conv_bn(1, config.stem_channels, 3, 2)
        blocks = []
        channels = config.stem_channels
        for out_channels, stride, expansion in config.blocks:
            blocks.append(InvertedResidual(channels, out_channels, stride, expansion))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(2 * channels, config.n_hidden), nn.ReLU())
        self.classify = nn.Linear(config.n_hidden, config.n_labels)
        nn.init.constant_(self.classify.bias, UNTRAINED_LOGIT)

    def logits(self, magnitude: torch.Tensor) -> torch.Tensor:
        batch = magnitude.shape[0]
        n_steps = self.config.context_frames // self.config.time_pool
        pooled = magnitude.reshape(batch, n_steps, self.config.time_pool, self.config.n_bins).mean(dim=2)
        x = torch.log1p(torch.relu(self.mel(pooled)))[:, None]  # (B, 1, steps, mels)
        x = self.blocks(self.stem(x))
        x = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.classify(self.head(x))

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(magnitude))
