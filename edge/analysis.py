"""What the analysis half of the pipeline hands the haptic renderer, one block of hops at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Analysis:
    """Analysis of ``n_frames`` consecutive hops.

    ``t_s``: (n_frames,) stream time in seconds at the end of each hop.
    ``mixture_mag``: (n_frames, n_bins) magnitude spectrum of the input (n_bins = n_fft // 2 + 1).
    ``stem_mag``: stem name -> (n_frames, n_bins) magnitude estimate, or None on the DSP-only path.
    ``tag_probs``: (n_frames, n_labels) latest tagger probabilities held per frame, or None without a tagger.
    ``labels``: the tagger's label names (n_labels,), empty without a tagger.
    ``audio``: (n_frames * hop,) the mono input samples these hops cover, float32.
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

    @property
    def n_frames(self) -> int:
        return int(self.t_s.shape[0])
