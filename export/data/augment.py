"""Remix and gain augmentation of multitrack examples (stems stay exact: the mixture is always their sum)."""

from __future__ import annotations

import numpy as np


def random_gains_db(rng: np.random.Generator, n_stems: int, spread_db: float) -> np.ndarray:
    """Independent per-stem gains in dB, uniform in [-spread_db, +spread_db]."""
    return rng.uniform(-spread_db, spread_db, n_stems)


def remix(stems: np.ndarray, gains_db: np.ndarray, drop_probability: float, rng: np.random.Generator) -> np.ndarray:
    """stems (n_stems, n_samples) -> new stems with gains applied; each stem is silenced with ``drop_probability``
    (never all of them) so the model also sees solo and partial mixtures."""
    gains = 10.0 ** (gains_db / 20.0)
    keep = rng.random(len(stems)) >= drop_probability
    if not keep.any():
        keep[int(rng.integers(len(stems)))] = True
    return (stems * (gains * keep)[:, None]).astype(np.float32)


def swap_stems(stems_a: np.ndarray, stems_b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each stem comes from song a or b at random (cross-song remixing: new combinations the renderer never made)."""
    choose_b = rng.random(len(stems_a)) < 0.5
    return np.where(choose_b[:, None], stems_b, stems_a)


def scale_to_peak(stems: np.ndarray, peak: float, rng: np.random.Generator, spread_db: float = 0.0) -> np.ndarray:
    """Scale all stems together so the mixture's peak is ``peak`` times a random gain within +-spread_db."""
    mixture_peak = float(np.abs(stems.sum(axis=0)).max())
    if mixture_peak < 1e-9:
        return stems
    gain = peak / mixture_peak * 10.0 ** (rng.uniform(-spread_db, spread_db) / 20.0)
    return (stems * gain).astype(np.float32)


# ------------------------------------------------------------------------------------------ stem-level effects
# Effects the strongest separation systems train with, applied per stem (so the targets stay exact: a stem's
# target is the stem after its effects) or, for the room and the microphone, to every stem alike.


def random_eq(audio: np.ndarray, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A random peaking EQ (+-12 dB at 60 Hz-6 kHz) and a random low or high shelf-like tilt, (n,) -> (n,)."""
    from scipy import signal

    centre_hz = float(np.exp(rng.uniform(np.log(60), np.log(6000))))
    gain_db, q = float(rng.uniform(-12, 12)), float(rng.uniform(0.5, 4.0))
    amplitude = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * centre_hz / sample_rate_hz
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * amplitude, -2 * np.cos(w0), 1 - alpha * amplitude])
    a = np.array([1 + alpha / amplitude, -2 * np.cos(w0), 1 - alpha / amplitude])
    out = signal.lfilter(b / a[0], a / a[0], audio)
    tilt_hz = float(np.exp(rng.uniform(np.log(150), np.log(4000))))
    kind = "lowpass" if rng.random() < 0.5 else "highpass"
    b, a = signal.butter(1, tilt_hz, btype=kind, fs=sample_rate_hz)
    mix = float(rng.uniform(0, 0.8))
    return ((1 - mix) * out + mix * signal.lfilter(b, a, out)).astype(np.float32)


def saturate(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """tanh saturation with a random drive (1-8), level kept."""
    peak = max(float(np.abs(audio).max()), 1e-9)
    drive = float(rng.uniform(1, 8))
    return (np.tanh(drive * audio / peak) / np.tanh(drive) * peak).astype(np.float32)


def compress(audio: np.ndarray, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A feed-forward compressor: RMS envelope (5-50 ms), threshold -30..-6 dB re peak, ratio 2-10, make-up gain."""
    from scipy import signal

    peak = max(float(np.abs(audio).max()), 1e-9)
    tau_s = float(rng.uniform(0.005, 0.05))
    pole = np.exp(-1 / (tau_s * sample_rate_hz))
    envelope = np.sqrt(signal.lfilter([1 - pole], [1, -pole], audio.astype(np.float64) ** 2)) + 1e-9
    threshold = peak * 10 ** (rng.uniform(-30, -6) / 20)
    ratio = float(rng.uniform(2, 10))
    gain = np.where(envelope > threshold, (envelope / threshold) ** (1 / ratio - 1), 1.0)
    out = audio * gain
    return (out * (peak / max(float(np.abs(out).max()), 1e-9))).astype(np.float32)


def room_impulse(rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A synthetic room impulse response: direct sound, early reflections, exponentially decaying filtered noise
    (RT60 0.15-1.2 s), (n,) float32."""
    from scipy import signal

    rt60_s = float(rng.uniform(0.15, 1.2))
    n = int(min(rt60_s, 0.6) * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    b, a = signal.butter(1, float(rng.uniform(1500, 7000)), fs=sample_rate_hz)
    impulse = signal.lfilter(b, a, tail) * float(rng.uniform(0.05, 0.5))
    for _ in range(int(rng.integers(2, 8))):
        impulse[int(rng.uniform(0.002, 0.04) * sample_rate_hz)] += float(rng.uniform(0.1, 0.6))
    impulse[0] = 1.0
    return impulse.astype(np.float32)


def microphone_path(stems: np.ndarray, rng: np.random.Generator, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """A small microphone and its preamp: band limits (high-pass 60-300 Hz, low-pass 3-7.5 kHz) on every stem alike,
    one slow AGC gain, and a noise floor -60..-30 dB re the mixture's RMS that belongs to no stem.
    Returns (stems, noise (n,))."""
    from scipy import signal

    b_high, a_high = signal.butter(2, float(rng.uniform(60, 300)), btype="highpass", fs=sample_rate_hz)
    b_low, a_low = signal.butter(2, float(rng.uniform(3000, 7500)), btype="lowpass", fs=sample_rate_hz)
    filtered = signal.lfilter(b_low, a_low, signal.lfilter(b_high, a_high, stems, axis=-1), axis=-1)
    mixture_rms = float(np.sqrt(np.mean(filtered.sum(axis=0) ** 2))) + 1e-9
    agc = float(np.clip(0.1 / mixture_rms, 0.25, 4.0))
    noise = rng.standard_normal(stems.shape[-1]) * mixture_rms * agc * 10 ** (rng.uniform(-60, -30) / 20)
    return (filtered * agc).astype(np.float32), noise.astype(np.float32)


def augment_segment(
    stems: np.ndarray, rng: np.random.Generator, probability: float, sample_rate_hz: int
) -> tuple[np.ndarray, np.ndarray]:
    """stems (n_stems, n) -> (augmented stems, noise (n,)) with each effect applied with ``probability``:
    per stem EQ, saturation and compression; one room reverb for all stems (each its own wet level); the
    microphone path. The mixture is stems.sum(0) + noise; targets are the augmented stems."""
    from scipy import signal

    out = stems.astype(np.float32).copy()
    for index in range(len(out)):
        if not np.any(out[index]):
            continue
        if rng.random() < probability:
            out[index] = random_eq(out[index], rng, sample_rate_hz)
        if rng.random() < probability / 2:
            out[index] = saturate(out[index], rng)
        if rng.random() < probability / 2:
            out[index] = compress(out[index], rng, sample_rate_hz)
    if rng.random() < probability:
        impulse = room_impulse(rng, sample_rate_hz)
        wet = signal.fftconvolve(out, impulse[None, :], axes=-1)[:, : out.shape[1]]
        mix = rng.uniform(0.0, 0.6, (len(out), 1))
        out = ((1 - mix) * out + mix * wet).astype(np.float32)
    noise = np.zeros(out.shape[1], np.float32)
    if rng.random() < probability / 2:
        out, noise = microphone_path(out, rng, sample_rate_hz)
    return out, noise
