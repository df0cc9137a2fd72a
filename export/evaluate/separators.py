"""The separators an evaluation compares, all turned into stem waveforms the same way: masks on the causal STFT
of the mixture (``edge.stft``), then the weighted overlap-add inverse (``export.evaluate.istft``).

- :class:`PackSeparator`: a pack's separator run by the edge runtime (``SeparatorStage`` over an ONNX or LiteRT
  runner, fp32 or int8), streaming with its state carried, exactly as on the device;
- :func:`ideal_ratio_masks`: the upper bound of any magnitude mask on this STFT, from the ground-truth stems;
- :func:`dsp_baseline_masks`: a causal DSP separator with no learning (median-filter HPSS + band split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge import DEVICE_SAMPLE_RATE_HZ
from edge._lazy import require
from edge.errors import PackError
from edge.model_stages import SeparatorStage
from edge.pack import Pack
from edge.runners import open_runner
from edge.stream import DEVICE_STREAM
from export.evaluate.istft import analyse, synthesise

MASK_EPSILON = 1e-8
"""Added to mask denominators so silent bins split evenly instead of dividing by zero."""

# DSP baseline: harmonic/percussive split by median filtering (Fitzgerald 2010), causal in time.
HPSS_TIME_FRAMES = 17
"""Length of the harmonic median filter along time (frames; 136 ms at hop 128, 16 kHz), over past frames only."""
HPSS_FREQ_BINS = 17
"""Length of the percussive median filter along frequency (bins; 530 Hz at n_fft 512, 16 kHz)."""
HPSS_MASK_POWER = 2.0
"""Soft-mask exponent: mask_h = H^p / (H^p + P^p)."""
BASS_MAX_HZ = 250.0
"""Harmonic energy below this is 'bass'."""
VOCALS_MAX_HZ = 4000.0
"""Harmonic energy from BASS_MAX_HZ up to this is 'vocals'; above it, 'other'."""
BASELINE_STEMS = ("vocals", "drums", "bass", "other")


@dataclass(frozen=True)
class StftSettings:
    """The STFT a separator's masks apply to (the pack's separator settings)."""

    n_fft: int = DEVICE_STREAM.n_fft
    hop: int = DEVICE_STREAM.hop
    window: str = "hann"
    sample_rate_hz: int = DEVICE_SAMPLE_RATE_HZ

    @property
    def bin_frequencies_hz(self) -> np.ndarray:
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate_hz)


def stft_settings_of(pack: Pack) -> StftSettings:
    """The STFT of the pack's separator (or tagger, which shares it); the runtime's defaults for an empty pack."""
    spec = pack.separator or pack.tagger
    return StftSettings() if spec is None else StftSettings(spec.n_fft, spec.hop, spec.window, spec.sample_rate_hz)


def apply_masks(
    mixture: np.ndarray,
    masks: np.ndarray,
    stems: tuple[str, ...],
    stft: StftSettings,
    spectrum: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Stem waveforms from ``masks`` (n_frames, n_stems, n_bins) applied to the mixture's STFT.

    ``spectrum``: the mixture's :func:`analyse` output when already computed.
    """
    spectrum = analyse(mixture, stft.n_fft, stft.hop, stft.window) if spectrum is None else spectrum
    return {
        stem: synthesise(spectrum * masks[:, k], len(mixture), stft.n_fft, stft.hop, stft.window)
        for k, stem in enumerate(stems)
    }


def ideal_ratio_masks(stems: dict[str, np.ndarray], stft: StftSettings) -> np.ndarray:
    """(n_frames, n_stems, n_bins) magnitude ratio masks |S_k| / sum_j |S_j| from the true stems (in dict order)."""
    magnitudes = np.stack([np.abs(analyse(s, stft.n_fft, stft.hop, stft.window)) for s in stems.values()], axis=1)
    return (magnitudes / (magnitudes.sum(axis=1, keepdims=True) + MASK_EPSILON)).astype(np.float32)


def dsp_baseline_masks(magnitude: np.ndarray, stft: StftSettings) -> np.ndarray:
    """(n_frames, 4, n_bins) masks for BASELINE_STEMS from a (n_frames, n_bins) magnitude: drums = percussive,
    bass = harmonic below BASS_MAX_HZ, vocals = harmonic BASS_MAX_HZ..VOCALS_MAX_HZ, other = harmonic above.

    Causal: the harmonic median runs over the current and past frames only; the percussive median is within a frame.
    """
    ndimage = require("scipy.ndimage", "export", "the DSP baseline separator")
    harmonic = ndimage.median_filter(
        magnitude, size=(HPSS_TIME_FRAMES, 1), origin=(HPSS_TIME_FRAMES // 2, 0), mode="constant"
    )
    percussive = ndimage.median_filter(magnitude, size=(1, HPSS_FREQ_BINS), mode="reflect")
    h_power, p_power = harmonic**HPSS_MASK_POWER, percussive**HPSS_MASK_POWER
    harmonic_mask = (h_power + MASK_EPSILON / 2) / (h_power + p_power + MASK_EPSILON)
    frequencies = stft.bin_frequencies_hz
    bands = {
        "bass": frequencies < BASS_MAX_HZ,
        "vocals": (frequencies >= BASS_MAX_HZ) & (frequencies < VOCALS_MAX_HZ),
        "other": frequencies >= VOCALS_MAX_HZ,
    }
    masks = {"drums": 1.0 - harmonic_mask, **{stem: harmonic_mask * band for stem, band in bands.items()}}
    return np.stack([masks[stem] for stem in BASELINE_STEMS], axis=1).astype(np.float32)


def dsp_baseline_separate(mixture: np.ndarray, stft: StftSettings) -> dict[str, np.ndarray]:
    spectrum = analyse(mixture, stft.n_fft, stft.hop, stft.window)
    return apply_masks(mixture, dsp_baseline_masks(np.abs(spectrum), stft), BASELINE_STEMS, stft, spectrum)


def ideal_ratio_mask_separate(
    mixture: np.ndarray, stems: dict[str, np.ndarray], stft: StftSettings
) -> dict[str, np.ndarray]:
    return apply_masks(mixture, ideal_ratio_masks(stems, stft), tuple(stems), stft)


class PackSeparator:
    """A pack's separator on one runtime and precision, through the edge runtime's streaming stage."""

    def __init__(self, pack: Pack, runtime: str | None = None, precision: str = "fp32", n_threads: int = 1) -> None:
        spec = pack.separator
        if spec is None:
            raise PackError(pack.source, "models", "has no separator", "a model with role 'separator' to evaluate")
        self.stage = SeparatorStage(open_runner(pack, spec, runtime, precision, n_threads))
        self.runtime = self.stage.runner.runtime
        self.precision = precision
        self.stems = spec.names
        self.stft = stft_settings_of(pack)

    def masks(self, magnitude: np.ndarray) -> np.ndarray:
        """(n_frames, n_bins) -> (n_frames, n_stems, n_bins), from a fresh state (reset first)."""
        self.stage.reset()
        masks = self.stage.process(magnitude.astype(np.float32))
        if len(masks) < len(magnitude):  # a fixed frames_per_step leaves the last frames pending: no mask yet
            masks = np.concatenate([masks, np.zeros((len(magnitude) - len(masks), *masks.shape[1:]), np.float32)])
        return masks

    def separate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        spectrum = analyse(mixture, self.stft.n_fft, self.stft.hop, self.stft.window)
        return apply_masks(mixture, self.masks(np.abs(spectrum)), self.stems, self.stft, spectrum)
