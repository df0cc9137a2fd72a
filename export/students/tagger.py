"""A streaming MobileNet-style tagger (in the spirit of EfficientAT) on the device's STFT magnitudes.

    magnitude context (B, context_frames, n_bins)
    -> average over groups of ``time_pool`` frames  -> (B, context_frames / time_pool, n_bins)
    -> Linear n_bins -> n_mels (initialised as a mel filterbank, trainable), log1p
    -> conv stem + inverted-residual blocks (depthwise 3x3 + pointwise, BatchNorm, ReLU6)
    -> mean + max pooling -> Linear -> sigmoid -> probabilities (B, n_labels)
    [with ``alert_columns``: those labels from a dedicated alert head on every stage's pooled features instead]

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
    alert_columns: tuple[int, ...] = ()
    """Label columns a dedicated alert head predicts in place of the shared classifier (empty: no head)."""
    n_alert_hidden: int = 64


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
    FLOAT_IN_INT8_WITH_ALERT_HEAD = ("alert_head",)
    """Kept float too when there is an alert head: it is calibrated to a bias in float (~3 % of the MACs)."""

    @property
    def float_in_int8(self) -> tuple[str, ...]:
        return self.FLOAT_IN_INT8 + (self.FLOAT_IN_INT8_WITH_ALERT_HEAD if self.alert_head is not None else ())

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
        self.alert_head: nn.Sequential | None = None
        if config.alert_columns:
            columns = config.alert_columns
            if len(set(columns)) != len(columns) or not all(0 <= c < config.n_labels for c in columns):
                raise ValueError(
                    f"alert_columns {columns}: expected distinct label columns within 0..{config.n_labels - 1}"
                )
            self.alert_head = nn.Sequential(
                nn.Linear(2 * (config.stem_channels + sum(block[0] for block in config.blocks)), config.n_alert_hidden),
                nn.ReLU(),
                nn.Linear(config.n_alert_hidden, len(columns)),
            )
            nn.init.constant_(self.alert_head[2].bias, UNTRAINED_LOGIT)
            # output column j of [shared classifier's n_labels | head's alerts]: the head's for its labels
            picks = list(range(config.n_labels))
            for k, column in enumerate(columns):
                picks[column] = config.n_labels + k
            self.register_buffer("label_picks", torch.tensor(picks), persistent=False)

    def logits(self, magnitude: torch.Tensor) -> torch.Tensor:
        stages = self.trunk(magnitude)
        logits = self.classify(self.head(_pooled(stages[-1])))
        if self.alert_head is None:
            return logits
        return torch.cat([logits, self.alert_head(self.alert_features(stages))], dim=1)[:, self.label_picks]

    def trunk(self, magnitude: torch.Tensor) -> list[torch.Tensor]:
        """(B, context_frames, n_bins) magnitude -> the feature maps (B, channels, steps, mels) of the stem and of
        each block, in order: the last is what the shared classifier reads (pooled)."""
        batch = magnitude.shape[0]
        n_steps = self.config.context_frames // self.config.time_pool
        pooled = magnitude.reshape(batch, n_steps, self.config.time_pool, self.config.n_bins).mean(dim=2)
        stages = [self.stem(torch.log1p(torch.relu(self.mel(pooled)))[:, None])]  # from (B, 1, steps, mels)
        for block in self.blocks:
            stages.append(block(stages[-1]))
        return stages

    @staticmethod
    def alert_features(stages: list[torch.Tensor]) -> torch.Tensor:
        """What the alert head reads: every stage's mean and max pooled features, (B, 2 x (stem + block channels))."""
        return torch.cat([_pooled(x) for x in stages], dim=1)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(magnitude))


def _pooled(x: torch.Tensor) -> torch.Tensor:
    """(B, channels, steps, mels) -> (B, 2 x channels): the mean and the max over time and frequency."""
    return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
