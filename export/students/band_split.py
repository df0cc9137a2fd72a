"""A causal 4-stem band-split mask separator (in the spirit of BSRNN / Band-SCNet) for the device's STFT.

    log(magnitude + floor) (B, T, n_bins) -> band split: one Linear per band (width_k bins -> n_channels)  -> (B, T, K, D)
    n_blocks x [ narrow-band temporal block: causal dilated conv over frames, weights shared by all bands
                 cross-band block: Linear over the band axis, then Linear over channels ]
    -> per band: Linear (D -> n_stems * width_k), sigmoid -> masks (B, T, n_stems, n_bins) in [0, 1]
    [-> the stem prior: pitched masks pulled towards their frequency band (:class:`StemPrior`), when configured]

The per-band Linears are parameters of their own (``encoders.k``, ``decoders.k``: the checkpoints' layout), but the
forward pass runs all bands at once, so the exported graph has a few operators instead of a few per band:
the encoders as one gather of the bins into (K, widest band) zero-padded rows and one batched MatMul with the K
weights stacked (:meth:`BandSplitSeparator.encoder_weight`), the decoders as one gather of each bin's band and one
MatMul per bin with that bin's rows of its band's decoder (:meth:`BandSplitSeparator.decoder_weight`). Those
stacked weights are functions of the parameters alone, so the ONNX exporter folds them into constants. State
slices are taken from the end (constant starts), so no shape arithmetic is left in the graph.

LiteRT runs the separator one frame per call, and its converter turns each ``nn.LayerNorm`` into ~14 operators and
each 4-D Linear into a Reshape pair; :class:`SingleFrameStep` is the same function for one frame of one stream,
written for that converter (the TFLite fp32 export uses it; :func:`export.tflite_export.export_tflite`).

Every temporal operation looks only at past frames: the recurrence of BSRNN is replaced by causal dilated
convolutions whose input history is the explicit state of the step function (state i: (B, D, history_i, K)),
so everything is Conv/MatMul and quantizes, and any number of frames per call gives the same result.
Algorithmic latency is the STFT window alone (no future frame is used).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn


def band_widths(n_bins: int, widths_per_octave_group: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """Band widths in bins from (width, count) groups, low to high; the last band takes the remaining bins."""
    widths: list[int] = []
    for width, count in widths_per_octave_group:
        widths += [width] * count
    used = sum(widths)
    if used > n_bins:
        raise ValueError(f"band widths cover {used} bins, more than n_bins={n_bins}")
    if used < n_bins:
        widths[-1] += n_bins - used
    return tuple(widths)


DEFAULT_BAND_GROUPS = ((2, 8), (4, 8), (8, 8), (16, 9))
"""At 16 kHz / n_fft 512 (31.25 Hz bins): 62.5 Hz bands to 500 Hz, 125 Hz to 1.5 kHz, 250 Hz to 3.5 kHz, 500 Hz above."""


@dataclass(frozen=True)
class BandSplitConfig:
    n_bins: int = 257
    n_stems: int = 4
    n_channels: int = 32
    kernel_frames: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    band_groups: tuple[tuple[int, int], ...] = DEFAULT_BAND_GROUPS
    n_onset_classes: int = 0
    """Drum-onset head outputs (kick, snare, hat); 0 leaves the head out."""
    stem_prior: tuple[tuple[float, float, float], ...] = ()
    """Per stem (weight, low_hz, high_hz) of its frequency prior (:class:`StemPrior`); empty: no prior."""
    percussive_stem: int = 1
    """The stem whose complement is 'pitched' for the prior (drums in vocals, drums, bass, other)."""
    sample_rate_hz: int = 16_000
    log_floor: float = 1.0
    """Input features log(magnitude + log_floor): 1.0 is log1p (the packs up to 1.2.0); a small floor keeps the
    spectral shape of quiet bins (the median bin of a training mixture is ~0.3, where log1p is nearly linear)."""


STEM_PRIOR_BANDS_HZ = {"vocals": (250.0, 4000.0), "bass": (0.0, 250.0), "other": (4000.0, float("inf"))}
"""Where a pitched stem's energy mostly lies (the DSP baseline's bands: export.evaluate.separators)."""


class StemPrior(nn.Module):
    """Pulls each pitched stem's mask towards a frequency prior: masks (B, T, n_stems, n_bins) ->

        (1 - w_s) mask_s + w_s (1 - mask_percussive) band_s(f)

    band_s: 1 inside the stem's (low_hz, high_hz), else 0; w_s from :attr:`BandSplitConfig.stem_prior` (0 for the
    percussive stem). On music from sources the separator never heard, its pitched masks stray outside where
    those stems live; the prior is what a DSP band split knows, applied to what the separator calls not drums.
    Constants only (buffers outside the state dict: checkpoints are the same with or without it). Training runs
    through it, but not into the drums mask by way of it: with that gradient the pitched stems' losses taught the
    drums mask to serve them (validation drums SDR fell 5 dB in 400 steps while the loss fell)."""

    def __init__(self, config: BandSplitConfig) -> None:
        super().__init__()
        if len(config.stem_prior) != config.n_stems:
            raise ValueError(f"stem_prior has {len(config.stem_prior)} entries for {config.n_stems} stems")
        frequencies = torch.arange(config.n_bins) * config.sample_rate_hz / (2 * (config.n_bins - 1))
        keep, prior = [], []
        for stem, (weight, low_hz, high_hz) in enumerate(config.stem_prior):
            if not 0.0 <= weight <= 1.0 or (stem == config.percussive_stem and weight):
                raise ValueError(f"stem {stem}: prior weight {weight}; expected 0..1, and 0 for the percussive stem")
            keep.append(1.0 - weight)
            prior.append(weight * ((frequencies >= low_hz) & (frequencies < high_hz)).float())
        self.percussive = config.percussive_stem
        self.register_buffer("keep", torch.tensor(keep)[:, None], persistent=False)  # (n_stems, 1)
        self.register_buffer("prior", torch.stack(prior), persistent=False)  # (n_stems, n_bins): w_s band_s(f)

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        """masks (..., n_stems, n_bins) -> the same shape."""
        # the drums mask as it is, not as the other stems would like it: no gradient through the prior's reference
        pitched = 1.0 - masks[..., self.percussive : self.percussive + 1, :].detach()
        return masks * self.keep + pitched * self.prior


def log_features(magnitude: torch.Tensor, floor: float) -> torch.Tensor:
    """log(magnitude + floor), as log1p when the floor is 1 (the graph of the packs before the floor was a setting)."""
    return torch.log1p(magnitude) if floor == 1.0 else torch.log(magnitude + floor)


class NarrowBandBlock(nn.Module):
    """Pre-norm residual causal conv over frames, per band (bands share weights). State: (B, D, history, K).

    The conv runs over (B, D, T, K) with a (kernel_frames, 1) kernel: frames are not the innermost axis, so
    appending a hop to the history and keeping its tail copy D rows of T x K values, not D x K rows of one or a
    few values each (ONNX Runtime spent ~40 % of the separator's instructions on those two copies when frames
    were innermost). Checkpoints from before, whose conv weights are (D, D, 1, kernel_frames), load unchanged
    (:meth:`_load_from_state_dict` turns them; the values are the same in the same memory order)."""

    def __init__(self, n_channels: int, kernel_frames: int, dilation: int) -> None:
        super().__init__()
        if kernel_frames < 2:
            raise ValueError(f"kernel_frames={kernel_frames}: a temporal block needs at least 2 frames")
        self.n_history_frames = (kernel_frames - 1) * dilation
        self.norm = nn.LayerNorm(n_channels)
        self.conv = nn.Conv2d(n_channels, n_channels, (kernel_frames, 1), dilation=(dilation, 1))
        self.pointwise = nn.Linear(n_channels, n_channels)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, K, D), state (B, D, H, K) -> (B, T, K, D), new state (B, D, H, K)."""
        h = self.norm(x).permute(0, 3, 1, 2)  # (B, D, T, K)
        extended = torch.cat([state, h], dim=2)
        new_state = extended[:, :, -self.n_history_frames :]
        h = torch.relu(self.conv(extended)).permute(0, 2, 3, 1)
        return x + self.pointwise(h), new_state

    @staticmethod
    def conv_weight_in_current_layout(weight: torch.Tensor) -> torch.Tensor:
        """A conv weight of a checkpoint in this block's layout (D, D, k, 1): one of before frames left the inner
        axis, (D, D, 1, k), is turned (the same values in the same memory order); any other is returned as it is."""
        if weight.ndim == 4 and weight.shape[2] == 1 and weight.shape[3] > 1:
            return weight.transpose(2, 3)
        return weight

    def _load_from_state_dict(
        self, state_dict: dict[str, torch.Tensor], prefix: str, *args: object, **kwargs: object
    ) -> None:
        key = f"{prefix}conv.weight"
        if key in state_dict:
            state_dict[key] = self.conv_weight_in_current_layout(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[arg-type]


class CrossBandBlock(nn.Module):
    """Pre-norm residual mixing across bands (Linear over K), then across channels (Linear over D), per frame."""

    def __init__(self, n_channels: int, n_bands: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_channels)
        self.band_mix = nn.Linear(n_bands, n_bands)
        self.channel_mix = nn.Linear(n_channels, n_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.band_mix(self.norm(x).transpose(2, 3)).transpose(2, 3)
        return x + self.channel_mix(torch.relu(h))


class BandSplitSeparator(nn.Module):
    """Step function: (magnitude (B, T, n_bins), *states) -> (masks (B, T, n_stems, n_bins),
    [onset probabilities (B, T, n_onset_classes) when the head is on], *new states)."""

    STACKED_MODULES = ("band_split", "band_merge")
    """Modules that run per-band Linears batched, from stacked weights (:meth:`unstacked_parameters` inverts them)."""
    FLOAT_IN_INT8 = STACKED_MODULES
    """Submodules the int8 artifacts keep float: the band split and merge (~3 % of the MACs). Their input gathers
    bands of very different loudness into one tensor, and one int8 scale for all of them costs the quiet high bands
    their resolution (the LiteRT converter also merged per-band input scales into the quietest band's, clipping the
    others: held-out mask correlation 0.45 before the encoders were kept float)."""
    FLOAT_IN_INT8_WITH_ONSETS = ("onset_branch",)
    """Kept float too when the onset branch is on: LiteRT's int8 converter fails on its Conv1d (lowered through a
    reshape it cannot quantize), and it is ~2 % of the separator's MACs."""

    @property
    def float_in_int8(self) -> tuple[str, ...]:
        return self.FLOAT_IN_INT8 + (self.FLOAT_IN_INT8_WITH_ONSETS if self.onset_branch is not None else ())

    def __init__(self, config: BandSplitConfig = BandSplitConfig()) -> None:
        super().__init__()
        self.config = config
        self.widths = band_widths(config.n_bins, config.band_groups)
        self.n_bins = config.n_bins
        self.n_stems = config.n_stems
        self.n_channels = config.n_channels
        self.n_bands = len(self.widths)
        self.encoders = nn.ModuleList(nn.Linear(width, config.n_channels) for width in self.widths)
        self.temporal = nn.ModuleList(
            NarrowBandBlock(config.n_channels, config.kernel_frames, d) for d in config.dilations
        )
        self.cross_band = nn.ModuleList(CrossBandBlock(config.n_channels, self.n_bands) for _ in config.dilations)
        self.out_norm = nn.LayerNorm(config.n_channels)
        self.decoders = nn.ModuleList(nn.Linear(config.n_channels, config.n_stems * width) for width in self.widths)
        self.n_onset_classes = config.n_onset_classes
        self.onset_branch = OnsetBranch(config.n_bins, config.n_onset_classes) if config.n_onset_classes else None
        self.band_split = BandSplit(self.widths)
        self.band_merge = BandMerge(self.widths)
        self.stem_prior = StemPrior(config) if config.stem_prior else None

    def encoder_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The band encoders stacked for one batched MatMul: weight (K, max_width, D) whose rows past band k's width
        are zero, bias (K, 1, D)."""
        padded = [
            torch.cat(
                [encoder.weight.t(), encoder.weight.new_zeros(self.band_split.max_width - width, self.n_channels)]
            )
            for encoder, width in zip(self.encoders, self.widths)
        ]
        return torch.stack(padded), torch.stack([encoder.bias for encoder in self.encoders])[:, None]

    def decoder_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The band decoders regrouped per bin: weight (n_bins, D, n_stems) -- bin f's output row of its band's
        decoder for each stem --, bias (n_bins, 1, n_stems)."""
        weights, biases = [], []
        for decoder, width in zip(self.decoders, self.widths):
            weights.append(decoder.weight.reshape(self.n_stems, width, self.n_channels).permute(1, 2, 0))
            biases.append(decoder.bias.reshape(self.n_stems, width).t())
        return torch.cat(weights), torch.cat(biases)[:, None]

    def unstacked_parameters(self, module: str, weight: torch.Tensor, bias: torch.Tensor) -> dict[str, torch.Tensor]:
        """The band encoders' (``module`` "band_split") or decoders' ("band_merge") parameters, by state-dict key,
        from the stacked weight and bias :meth:`encoder_weight` or :meth:`decoder_weight` made (e.g. read back
        from an exported graph)."""
        parameters = {}
        start = 0
        for k, width in enumerate(self.widths):
            if module == "band_split":
                parameters[f"encoders.{k}.weight"] = weight[k, :width].t()
                parameters[f"encoders.{k}.bias"] = bias[k, 0]
            elif module == "band_merge":
                rows = weight[start : start + width]  # (width, D, n_stems)
                parameters[f"decoders.{k}.weight"] = rows.permute(2, 0, 1).reshape(
                    self.n_stems * width, self.n_channels
                )
                parameters[f"decoders.{k}.bias"] = bias[start : start + width, 0].t().reshape(self.n_stems * width)
            else:
                raise ValueError(f"no stacked parameters in module {module!r}; expected band_split or band_merge")
            start += width
        return {key: value.contiguous() for key, value in parameters.items()}

    def state_shapes(self, batch: int = 1) -> list[tuple[int, ...]]:
        """The temporal blocks' input histories, then the onset branch's (when it has one)."""
        shapes = [(batch, self.n_channels, block.n_history_frames, self.n_bands) for block in self.temporal]
        return shapes + (self.onset_branch.state_shapes(batch) if self.onset_branch is not None else [])

    def initial_states(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(shape) for shape in self.state_shapes(batch)]

    @property
    def receptive_field_frames(self) -> int:
        return 1 + sum(block.n_history_frames for block in self.temporal)

    def single_frame_step(self) -> SingleFrameStep:
        """This separator for one frame of one stream per call, in the operators LiteRT runs cheapest."""
        return SingleFrameStep(self)

    def masks_only(self) -> BandSplitSeparator:
        """This separator without its onset branch, sharing every parameter: the graph the device runs for the
        masks (every ``every_n_hops`` hops), while the onset branch is a graph of its own that runs every hop
        (:class:`OnsetStep`). Its forward and states are the trunk's alone."""
        view = copy.copy(self)
        view._modules = {name: module for name, module in self._modules.items() if name != "onset_branch"}
        view.__dict__["onset_branch"] = None
        view.n_onset_classes = 0
        return view

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = log_features(magnitude, self.config.log_floor)
        x = self.band_split(features, *self.encoder_weight())
        new_states = []
        n_trunk = len(self.temporal)
        for temporal, cross_band, state in zip(self.temporal, self.cross_band, states[:n_trunk]):
            x, new_state = temporal(x, state)
            x = cross_band(x)
            new_states.append(new_state)
        masks = torch.sigmoid(self.band_merge(self.out_norm(x), *self.decoder_weight()))
        outputs = [masks if self.stem_prior is None else self.stem_prior(masks)]
        if self.onset_branch is not None:
            logits, *onset_states = self.onset_branch(magnitude, *states[n_trunk:])
            outputs.append(torch.sigmoid(logits))
            new_states += onset_states
        return (*outputs, *new_states)


class BandSplit(nn.Module):
    """Every band's encoder at once: (B, T, n_bins) features -> (B, T, K, D), by one gather of the bins into
    (K, max_width) rows (a band narrower than the widest repeats its last bin; those weight rows are zero) and one
    MatMul batched over the bands, (T, max_width) by (max_width, D) each. No parameters of its own: the weights are
    the band encoders' (:meth:`BandSplitSeparator.encoder_weight`); it is a module so that its nodes carry its name
    (``/band_split/...``) for the int8 exports to keep float."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.max_width = max(widths)
        starts = [sum(widths[:k]) for k in range(len(widths))]
        bins = [[start + min(j, width - 1) for j in range(self.max_width)] for start, width in zip(starts, widths)]
        self.register_buffer("bins", torch.tensor(bins), persistent=False)  # outside the state dict: checkpoints stay

    def forward(self, features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """features (B, T, n_bins), weight (K, max_width, D), bias (K, 1, D) -> (B, T, K, D)."""
        bands = features[:, :, self.bins].transpose(1, 2)  # (B, K, T, max_width)
        return (torch.matmul(bands, weight) + bias).transpose(1, 2)


class BandMerge(nn.Module):
    """Every band's decoder at once: (B, T, K, D) -> mask logits (B, T, n_stems, n_bins), by one gather of each bin's
    band features and one MatMul batched over the bins, (T, D) by (D, n_stems) each: bin f's rows of its band's
    decoder (:meth:`BandSplitSeparator.decoder_weight`). A module for its node names, like :class:`BandSplit`."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        bands = [k for k, width in enumerate(widths) for _ in range(width)]
        self.register_buffer("bands", torch.tensor(bands), persistent=False)

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x (B, T, K, D), weight (n_bins, D, n_stems), bias (n_bins, 1, n_stems) -> (B, T, n_stems, n_bins)."""
        per_bin = x[:, :, self.bands].transpose(1, 2)  # (B, n_bins, T, D)
        return (torch.matmul(per_bin, weight) + bias).permute(0, 2, 3, 1)


class OnsetBranch(nn.Module):
    """Drum-onset probabilities beside the separator, from the input magnitude alone:

        log1p(magnitude) (B, T, n_bins) -> Linear -> n_bands_onset band features
        -> 3 causal dilated Conv1d over frames (kernel 3, dilations 1, 2, 4; history as explicit state), ReLU
        -> Linear -> logits (B, T, n_classes)

    Its own states follow the separator's (state i: (B, channels_i, history_i)); ~45 k parameters, ~5 M MAC per
    second of audio. Independent of the mask trunk, so it trains on its own (:func:`train_onset_branch`)."""

    def __init__(
        self,
        n_bins: int,
        n_classes: int,
        n_bands: int = 40,
        n_channels: int = 64,
        dilations: tuple[int, ...] = (1, 2, 4),
        kernel_frames: int = 3,
    ) -> None:
        super().__init__()
        self.bands = nn.Linear(n_bins, n_bands)
        widths = [n_bands] + [n_channels] * len(dilations)
        self.convs = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], kernel_frames, dilation=d) for i, d in enumerate(dilations)
        )
        self.histories = [(kernel_frames - 1) * d for d in dilations]
        self.out = nn.Linear(n_channels, n_classes)

    def state_shapes(self, batch: int = 1) -> list[tuple[int, ...]]:
        return [(batch, conv.in_channels, history) for conv, history in zip(self.convs, self.histories)]

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """magnitude (B, T, n_bins), states -> (logits (B, T, n_classes), *new states)."""
        x = self.bands(torch.log1p(magnitude)).transpose(1, 2)  # (B, n_bands, T)
        new_states = []
        for conv, history, state in zip(self.convs, self.histories, states):
            extended = torch.cat([state, x], dim=2)
            new_states.append(extended[:, :, -history:])
            x = torch.relu(conv(extended))
        return (self.out(x.transpose(1, 2)), *new_states)


class OnsetStep(nn.Module):
    """The onset branch as the device runs it, a step function of its own: (magnitude (B, T, n_bins), *states) ->
    (onset probabilities (B, T, n_classes), *new states). The submodule keeps its name (``onset_branch``) so that
    the int8 exports can keep it float (:attr:`BandSplitSeparator.FLOAT_IN_INT8_WITH_ONSETS`)."""

    def __init__(self, onset_branch: OnsetBranch) -> None:
        super().__init__()
        self.onset_branch = onset_branch

    def state_shapes(self, batch: int = 1) -> list[tuple[int, ...]]:
        return self.onset_branch.state_shapes(batch)

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, *new_states = self.onset_branch(magnitude, *states)
        return (torch.sigmoid(logits), *new_states)


class HeldMasks(nn.Module):
    """A separator's masks as the device makes them when the separator runs every ``every_n_hops`` hops: the
    separator sees frames 0, n, 2n, ... of the input (its states carried from one to the next), and each of their
    masks is held for the n - 1 frames after it (``edge.model_stages.SeparatorStage``). Outputs as the
    separator's (the onset probabilities, when it has them, are the onset branch's on every frame)."""

    def __init__(self, separator: BandSplitSeparator, every_n_hops: int) -> None:
        super().__init__()
        if every_n_hops < 1:
            raise ValueError(f"every_n_hops={every_n_hops}; expected >= 1")
        self.separator = separator
        self.every_n_hops = every_n_hops

    def initial_states(self, batch: int = 1) -> list[torch.Tensor]:
        return self.separator.initial_states(batch)

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """magnitude (B, T, n_bins), states -> (masks (B, T, n_stems, n_bins), [onsets (B, T, n_classes)], *states)."""
        n = self.every_n_hops
        model = self.separator
        if n == 1:
            return model(magnitude, *states)
        n_trunk = len(model.temporal)
        outputs = model.masks_only()(magnitude[:, ::n], *states[:n_trunk])
        masks = outputs[0].repeat_interleave(n, dim=1)[:, : magnitude.shape[1]]
        if model.onset_branch is None:
            return (masks, *outputs[1:])
        onsets, *onset_states = OnsetStep(model.onset_branch)(magnitude, *states[n_trunk:])
        return (masks, onsets, *outputs[1:], *onset_states)


def equal_width_runs(widths: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Neighbouring bands of equal width, low to high: (first band, n bands, width, first bin) per run."""
    runs: list[tuple[int, int, int, int]] = []
    first_bin = 0
    for band, width in enumerate(widths):
        if runs and runs[-1][2] == width:
            first, n, _, start = runs[-1]
            runs[-1] = (first, n + 1, width, start)
        else:
            runs.append((band, 1, width, first_bin))
        first_bin += width
    return runs


def normalized(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Layer normalisation over the last axis without the affine part, as the elementwise operators it is made of
    (the LiteRT converter lowers ``nn.LayerNorm`` through a batch norm into ~14 operators with reshapes; these are
    seven)."""
    centred = x - x.mean(-1, keepdim=True)
    return centred * torch.rsqrt((centred * centred).mean(-1, keepdim=True) + eps)


MIN_DILATION_FOR_TAPS = 4
"""Temporal blocks with at least this dilation convolve the newest frame from its kernel's frames alone in
:class:`SingleFrameStep` (sense-default 1.1.0 on the Pi 4 profile: ~2 % fewer instructions per hop than
convolving every block's whole history; from dilation 2 on: ~1 %)."""


class SingleFrameStep(nn.Module):
    """:class:`BandSplitSeparator`'s step function for one frame of one stream (magnitude (1, 1, n_bins), the same
    states and outputs), written for the LiteRT converter: its TFLite graph has ~30 % fewer operators and the
    same values (< 1e-5; tests/export/test_single_frame_step.py). No parameters of its own: it reads the
    separator's, so it follows the separator's weights.

    - the residual stream is a 2-D (bands, channels) matrix, so every Linear is one FullyConnected without the
      Reshape pair the converter puts around a 4-D one;
    - LayerNorm as its elementwise operators (:func:`normalized`), and the output norm's scale and shift folded into
      the stacked decoder weights (bin f's rows times the scale; the shift times them added to the biases);
    - the temporal conv's output is turned to (bands, channels) by the permutation that cancels the converter's own
      NCHW -> NHWC transpose, so none is left after the conv; a widely dilated conv reads only its kernel's frames
      (:meth:`temporal_conv`);
    - the band mix multiplies the (bands, channels) matrix from the left: one BatchMatMul and an Add, where
      a Linear over the band axis needs a Transpose on each side; the cross-band norm's scale and shift pass through
      it (band_mix @ (n * scale + shift) + bias = (band_mix @ n) * scale + a constant: one operator fewer per block,
      ~0.9 M aarch64 instructions per audio second of the whole pipeline for 3 blocks);
    - the band split and merge go by runs of equal-width bands (:meth:`band_split`, :meth:`band_merge`): slices and
      one BatchMatMul per run, no GATHER_ND, which XNNPACK does not run (with the gathers the graph ran in three
      XNNPACK partitions and cost ~12 M more aarch64 instructions per audio second; docs/hot_path.md).
    """

    def __init__(self, model: BandSplitSeparator) -> None:
        super().__init__()
        self.model = model

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """magnitude (1, 1, n_bins), states as :meth:`BandSplitSeparator.state_shapes` (1) -> as its forward."""
        model = self.model
        if tuple(magnitude.shape) != (1, 1, model.n_bins):
            raise ValueError(f"magnitude of shape {tuple(magnitude.shape)}: expected (1, 1, {model.n_bins})")
        features = log_features(magnitude, model.config.log_floor)[0, 0]
        x = self.band_split(features)  # (K, D)
        new_states = []
        n_trunk = len(model.temporal)
        for temporal, cross_band, state in zip(model.temporal, model.cross_band, states[:n_trunk]):
            h = normalized(x, temporal.norm.eps) * temporal.norm.weight + temporal.norm.bias
            extended = torch.cat([state, h.t()[None, :, None]], dim=2)  # (1, D, history + 1, K)
            new_states.append(extended[:, :, -temporal.n_history_frames :])
            x = x + temporal.pointwise(torch.relu(self.temporal_conv(temporal, state, h, extended)))
            # band_mix @ (n * scale + shift) + bias = (band_mix @ n) * scale + constant: one operator fewer
            mix = cross_band.band_mix
            constant = mix.weight.sum(1)[:, None] * cross_band.norm.bias[None, :] + mix.bias[:, None]
            h = torch.relu((mix.weight @ normalized(x, cross_band.norm.eps)) * cross_band.norm.weight + constant)
            x = x + cross_band.channel_mix(h)
        masks = torch.sigmoid(self.band_merge(normalized(x, model.out_norm.eps)))[None, None]
        outputs = [masks if model.stem_prior is None else model.stem_prior(masks)]
        if model.onset_branch is not None:
            onset_logits, *onset_states = model.onset_branch(magnitude, *states[n_trunk:])
            outputs.append(torch.sigmoid(onset_logits))
            new_states += onset_states
        return (*outputs, *new_states)

    def band_split(self, features: torch.Tensor) -> torch.Tensor:
        """Every band's encoder, (n_bins,) features -> (K, D): per run of equal-width bands (:func:`equal_width_runs`),
        its contiguous bins as an (n, 1, width) slice and one BatchMatMul with the run's encoders; one bias Add."""
        model = self.model
        parts = []
        for first, n, width, first_bin in equal_width_runs(model.widths):
            weight = torch.stack([encoder.weight.t() for encoder in model.encoders[first : first + n]])  # (n, width, D)
            parts.append(torch.bmm(features[first_bin : first_bin + n * width].reshape(n, 1, width), weight))
        bias = torch.stack([encoder.bias for encoder in model.encoders])[:, None]  # (K, 1, D)
        return (torch.cat(parts) + bias)[:, 0]

    def band_merge(self, normalised: torch.Tensor) -> torch.Tensor:
        """Every band's decoder, the output norm's scale and shift folded in: (K, D) layer-normalised features ->
        mask logits (n_stems, n_bins). Per run of equal-width bands one BatchMatMul (n, 1, D) x (n, D, width x
        n_stems), its columns ordered bin by bin so that the product reshapes to (n x width, n_stems) rows; the runs
        stacked, one bias Add and one Transpose."""
        model = self.model
        scale, shift = model.out_norm.weight, model.out_norm.bias
        n_stems = model.n_stems
        per_band = normalised.reshape(model.n_bands, 1, model.n_channels)
        parts = []
        for first, n, width, _ in equal_width_runs(model.widths):
            weight = torch.stack(  # (n, D, width * n_stems): a decoder's rows are stem-major, these columns bin-major
                [
                    (decoder.weight * scale)
                    .reshape(n_stems, width, -1)
                    .transpose(0, 1)
                    .reshape(width * n_stems, -1)
                    .t()
                    for decoder in model.decoders[first : first + n]
                ]
            )
            parts.append(torch.bmm(per_band[first : first + n], weight).reshape(n * width, n_stems))
        bias = torch.cat(
            [
                (decoder.bias + decoder.weight @ shift).reshape(n_stems, width).t()
                for decoder, width in zip(model.decoders, model.widths)
            ]
        )  # (n_bins, n_stems)
        return (torch.cat(parts) + bias).t()

    def temporal_conv(
        self, block: NarrowBandBlock, state: torch.Tensor, h: torch.Tensor, extended: torch.Tensor
    ) -> torch.Tensor:
        """``block``'s conv (before its ReLU) for the newest frame, (K, D), from its state (1, D, history, K), the
        newest frame's normalised features ``h`` (K, D) and both joined (1, D, history + 1, K).

        A dilation below :data:`MIN_DILATION_FOR_TAPS` convolves ``extended`` (its transpose to NHWC copies
        history + 1 frames, and the permutation here cancels the converter's transpose back); a wider one takes
        only the kernel's frames (2 * (history + 1) / kernel_frames fewer to copy) and applies the kernel as one
        FullyConnected over them."""
        n_bands, n_channels = self.model.n_bands, self.model.n_channels
        conv = block.conv
        dilation, kernel_frames = conv.dilation[0], conv.kernel_size[0]
        if dilation < MIN_DILATION_FOR_TAPS:
            return conv(extended).permute(0, 2, 3, 1).reshape(n_bands, n_channels)
        past = state[0].reshape(n_channels, kernel_frames - 1, dilation, n_bands)[:, :, 0].permute(2, 1, 0)
        taps = torch.cat([past, h[:, None]], dim=1).reshape(n_bands, kernel_frames * n_channels)  # (K, tap x D)
        weight = conv.weight[:, :, :, 0].permute(0, 2, 1).reshape(n_channels, kernel_frames * n_channels)
        return nn.functional.linear(taps, weight, conv.bias)
