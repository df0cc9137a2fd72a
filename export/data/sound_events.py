"""Synthetic everyday sounds the tagger must know but our allowed data lacks (sirens, alarms, doorbells, phone
rings, knocks, claps) and noise textures (wind-, rain-, hiss-like). They are only inputs: their labels come from
the YAMNet teacher, not from us."""

from __future__ import annotations

from typing import Callable

import numpy as np

SAMPLE_RATE_HZ = 16_000


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ


def siren(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Wailing (slow sweep) or yelping (fast sweep) siren between ~600 and ~1400 Hz."""
    t = _time(seconds)
    rate_hz = rng.uniform(0.2, 0.5) if rng.random() < 0.5 else rng.uniform(2.5, 5.0)
    low, high = rng.uniform(500, 800), rng.uniform(1100, 1600)
    frequency = low + (high - low) * 0.5 * (1 - np.cos(2 * np.pi * rate_hz * t))
    phase = 2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE_HZ
    return (np.sin(phase) + 0.3 * np.sin(3 * phase)) * 0.4


def beeping_alarm(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Smoke-alarm / alarm-clock style beeps: a 2-4 kHz tone gated on and off."""
    t = _time(seconds)
    period_s, duty = rng.uniform(0.15, 0.6), rng.uniform(0.3, 0.6)
    gate = ((t % period_s) < duty * period_s).astype(float)
    return np.sign(np.sin(2 * np.pi * rng.uniform(2000, 4000) * t)) * gate * 0.25


def doorbell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Ding-dong: two decaying bell tones (with inharmonic partials) a third or fourth apart."""
    t = _time(seconds)
    out = np.zeros_like(t)
    first = rng.uniform(550, 800)
    for start_s, f_hz in ((0.05, first), (0.55, first / rng.choice([1.26, 1.335]))):
        local = np.clip(t - start_s, 0, None)
        envelope = (t >= start_s) * np.exp(-local / 0.6)
        out += envelope * sum(a * np.sin(2 * np.pi * f_hz * r * local) for a, r in ((1, 1), (0.4, 2.76), (0.2, 5.4)))
    return out * 0.35


def phone_ring(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Telephone ring: two tones (e.g. 440 + 480 Hz) with a fast warble, 2 s on / 4 s off style cadence."""
    t = _time(seconds)
    warble = (np.sin(2 * np.pi * 20 * t) > 0).astype(float)
    tone = np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * rng.choice([480, 520]) * t)
    cadence = ((t % 3.0) < 1.5).astype(float)
    return tone * (0.5 + 0.5 * warble) * cadence * 0.25


def knocking(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Knocks on a door: groups of 2-4 low resonant thumps."""
    t = _time(seconds)
    out = np.zeros_like(t)
    start_s = 0.1
    while start_s < seconds - 0.5:
        for _ in range(int(rng.integers(2, 5))):
            local = np.clip(t - start_s, 0, None)
            out += (t >= start_s) * np.exp(-local / 0.02) * np.sin(2 * np.pi * rng.uniform(150, 300) * local)
            start_s += rng.uniform(0.15, 0.25)
        start_s += rng.uniform(0.8, 1.5)
    return out * 0.6


def clapping(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Hand claps (a few people): short band-passed noise bursts at irregular intervals."""
    n = int(seconds * SAMPLE_RATE_HZ)
    out = np.zeros(n)
    n_burst = int(0.03 * SAMPLE_RATE_HZ)
    burst_env = np.exp(-np.arange(n_burst) / (0.006 * SAMPLE_RATE_HZ))
    position = 0
    while position < n - n_burst:
        burst = np.diff(rng.standard_normal(n_burst + 1)) * burst_env
        out[position : position + n_burst] += burst * rng.uniform(0.3, 1.0)
        position += int(rng.uniform(0.05, 0.3) * SAMPLE_RATE_HZ)
    return out * 0.3


EVENT_GENERATORS: dict[str, Callable[[np.random.Generator, float], np.ndarray]] = {
    "siren": siren, "alarm": beeping_alarm, "doorbell": doorbell, "telephone": phone_ring, "knock": knocking,
    "clapping": clapping,
}


def synthesize_event(kind: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    return EVENT_GENERATORS[kind](rng, seconds).astype(np.float32)


NOISE_COLOURS_DB_PER_OCTAVE = (0.0, -3.0, -6.0)
"""White, pink and brown noise slopes."""


def noise_texture(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Coloured noise (white, pink or brown), band-limited at random and slowly swelling: wind-, rain-, surf- or
    hiss-like backgrounds a microphone picks up, so the tagger meets more than clean music and speech."""
    n = int(seconds * SAMPLE_RATE_HZ)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequency_hz = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    slope_db = NOISE_COLOURS_DB_PER_OCTAVE[int(rng.integers(len(NOISE_COLOURS_DB_PER_OCTAVE)))]
    gain = (np.maximum(frequency_hz, 20.0) / 1000.0) ** (slope_db / (20.0 * np.log10(2.0)))
    low_hz, high_hz = rng.uniform(20.0, 800.0), rng.uniform(1500.0, SAMPLE_RATE_HZ / 2)
    gain *= (frequency_hz >= low_hz) & (frequency_hz <= high_hz)
    noise = np.fft.irfft(spectrum * gain, n)
    t = _time(seconds)
    swell = 1.0 + rng.uniform(0.0, 0.8) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 2 * np.pi))
    out = noise * swell
    return (0.3 * out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)
