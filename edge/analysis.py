"""What the analysis half of the pipeline hands the haptic renderer, one block of hops at a time — and the same
analysis built from whole signals (oracle stems, tests, benchmarks, pictures) with the pipeline's causal STFT."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.errors import AudioInputError
from edge.stft import StreamingSTFT
from edge.stream import DEVICE_STREAM


@dataclass(frozen=True)
class Analysis:
    """Analysis of ``n_frames`` consecutive hops.

    ``t_s``: (n_frames,) stream time in seconds at the end of each hop.
    ``mixture_mag``: (n_frames, n_bins) magnitude spectrum of the input (n_bins = n_fft // 2 + 1).
    ``stem_mag``: stem name -> (n_frames, n_bins) magnitude estimate, or None on the DSP-only path.
    ``tag_probs``: (n_frames, n_labels) latest tagger probabilities held per frame, or None without a tagger.
    ``labels``: the tagger's label names (n_labels,), empty without a tagger.
    ``audio``: (n_frames * hop,) the mono input samples these hops cover, float32.
    ``drum_onsets``: (n_frames, n_onset_classes) the separator's drum-onset probabilities, or None when it has no
    onset head or the hop is rendered DSP-only; ``onset_classes`` names its columns (e.g. kick, snare, hat).
    """

    t_s: np.ndarray
    mixture_mag: np.ndarray
    stem_mag: dict[str, np.ndarray] | None
    tag_probs: np.ndarray | None
    labels: tuple[str, ...]
    audio: np.ndarray
    sample_rate_hz: int
    n_fft: int
    hop: int
    drum_onsets: np.ndarray | None = None
    onset_classes: tuple[str, ...] = ()

    @property
    def n_frames(self) -> int:
        return int(self.t_s.shape[0])


def _magnitudes(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    n_hops = len(signal) // hop
    return np.abs(StreamingSTFT(n_fft, hop).process(signal[: n_hops * hop].reshape(n_hops, hop)))


def analyse_signals(
    audio: np.ndarray,
    sample_rate_hz: int,
    n_fft: int = DEVICE_STREAM.n_fft,
    hop: int = DEVICE_STREAM.hop,
    stems: dict[str, np.ndarray] | None = None,
    tag_probs: np.ndarray | None = None,
    labels: tuple[str, ...] = (),
) -> Analysis:
    """Analysis of a mono ``audio`` (n_samples,) and, optionally, its exact ``stems`` (name -> (n_samples,)).

    Whole hops only (a trailing partial hop is dropped). ``tag_probs`` (n_frames, n_labels) is passed through.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise AudioInputError(f"analysis needs mono audio (n_samples,), got shape {audio.shape}")
    n_frames = len(audio) // hop
    stem_mag = None
    if stems is not None:
        stem_mag = {}
        for name, stem in stems.items():
            if np.asarray(stem).shape != audio.shape:
                raise AudioInputError(f"stem {name!r} has shape {np.asarray(stem).shape}, the mixture {audio.shape}")
            stem_mag[name] = _magnitudes(np.asarray(stem, dtype=np.float32), n_fft, hop)
    if tag_probs is not None and tag_probs.shape[0] != n_frames:
        raise AudioInputError(f"tag_probs has {tag_probs.shape[0]} frames, the audio {n_frames} hops")
    return Analysis(
        t_s=np.arange(1, n_frames + 1) * hop / sample_rate_hz,
        mixture_mag=_magnitudes(audio, n_fft, hop),
        stem_mag=stem_mag,
        tag_probs=tag_probs,
        labels=tuple(labels),
        audio=audio[: n_frames * hop],
        sample_rate_hz=sample_rate_hz,
        n_fft=n_fft,
        hop=hop,
    )


def slice_analysis(analysis: Analysis, start: int, stop: int) -> Analysis:
    """Frames [start, stop) of ``analysis`` as an Analysis of their own."""
    hop = analysis.hop
    return Analysis(
        t_s=analysis.t_s[start:stop],
        mixture_mag=analysis.mixture_mag[start:stop],
        stem_mag=None if analysis.stem_mag is None else {k: v[start:stop] for k, v in analysis.stem_mag.items()},
        tag_probs=None if analysis.tag_probs is None else analysis.tag_probs[start:stop],
        labels=analysis.labels,
        audio=analysis.audio[start * hop : stop * hop],
        sample_rate_hz=analysis.sample_rate_hz,
        n_fft=analysis.n_fft,
        hop=hop,
    )
