"""Synthetic test signals with known content for the haptics tests (at the device stream: ``DEVICE_STREAM``)."""

from __future__ import annotations

import numpy as np

from edge.stream import DEVICE_STREAM

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
N_FFT = DEVICE_STREAM.n_fft
HOP = DEVICE_STREAM.hop
FRAME_RATE_HZ = SAMPLE_RATE_HZ / HOP


def sine(frequency_hz: float, duration_s: float, amplitude: float = 0.3) -> np.ndarray:
    t_s = np.arange(int(duration_s * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t_s)).astype(np.float32)


def noise_bursts(
    onsets_s: list[float], duration_s: float, amplitude: float = 0.5, decay_s: float = 0.015, seed: int = 0
) -> np.ndarray:
    """Decaying white-noise bursts (drum-like hits) starting exactly at ``onsets_s``."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(duration_s * SAMPLE_RATE_HZ), dtype=np.float32)
    n_burst = int(8 * decay_s * SAMPLE_RATE_HZ)
    envelope = np.exp(-np.arange(n_burst) / (decay_s * SAMPLE_RATE_HZ))
    for onset_s in onsets_s:
        start = int(round(onset_s * SAMPLE_RATE_HZ))
        stop = min(start + n_burst, len(out))
        out[start:stop] += (amplitude * rng.standard_normal(stop - start) * envelope[: stop - start]).astype(np.float32)
    return out


def harmonic_tone(f0_hz: float, duration_s: float, n_harmonics: int = 5, amplitude: float = 0.2) -> np.ndarray:
    t_s = np.arange(int(duration_s * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    tone = sum(np.sin(2 * np.pi * f0_hz * k * t_s) / k for k in range(1, n_harmonics + 1))
    return (amplitude * tone).astype(np.float32)


def band_limited_song(duration_s: float = 4.0) -> tuple[np.ndarray, dict[str, np.ndarray], list[float]]:
    """A mixture of four stems with known content: drum hits every 0.5 s (from 0.25 s), a 55 Hz bass, a 220 Hz
    voice-like tone from 2 s and a 660 Hz "other" tone. Returns (mixture, stems, drum onsets)."""
    onsets_s = list(np.arange(0.25, duration_s - 0.1, 0.5))
    stems = {
        "drums": noise_bursts(onsets_s, duration_s),
        "bass": sine(55.0, duration_s, 0.3),
        "vocals": harmonic_tone(220.0, duration_s)
        * (np.arange(int(duration_s * SAMPLE_RATE_HZ)) >= 2 * SAMPLE_RATE_HZ),
        "other": sine(660.0, duration_s, 0.1),
    }
    stems = {name: stem.astype(np.float32) for name, stem in stems.items()}
    return np.sum(list(stems.values()), axis=0).astype(np.float32), stems, onsets_s
