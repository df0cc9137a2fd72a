"""Synthetic everyday sounds the tagger must know but our allowed data lacks (sirens, alarms, doorbells, phone
rings, knocks, claps) and noise textures (hiss, rain, crackle, wind gusts). They are only inputs: their labels come
from the YAMNet teacher, not from us."""

from __future__ import annotations

from typing import Callable

import numpy as np

from edge.stream import DEVICE_STREAM

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz


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
    "siren": siren,
    "alarm": beeping_alarm,
    "doorbell": doorbell,
    "telephone": phone_ring,
    "knock": knocking,
    "clapping": clapping,
}


def synthesize_event(kind: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    return EVENT_GENERATORS[kind](rng, seconds).astype(np.float32)


NOISE_COLOURS_DB_PER_OCTAVE = (0.0, -3.0, -6.0)
"""White, pink and brown noise: spectral slopes in dB per octave."""
NOISE_TEXTURE_PEAK = 0.3


def _unit_peak(audio: np.ndarray) -> np.ndarray:
    return audio / max(float(np.abs(audio).max()), 1e-9)


def _coloured(rng: np.random.Generator, n: int, slope_db_per_octave: float) -> tuple[np.ndarray, np.ndarray]:
    """(noise (n,), its rfft frequencies in Hz) with the given spectral slope, unscaled."""
    frequency_hz = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    gain = (np.maximum(frequency_hz, 20.0) / 1000.0) ** (slope_db_per_octave / (20.0 * np.log10(2.0)))
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * gain, n), frequency_hz


def _slow_envelope(rng: np.random.Generator, n: int, changes_per_second: float) -> np.ndarray:
    """(n,) values in [0, 1] drawn ``changes_per_second`` times a second and linearly interpolated."""
    n_points = int(n / SAMPLE_RATE_HZ * changes_per_second) + 2
    return np.interp(np.arange(n), np.linspace(0, n, n_points), rng.uniform(0.0, 1.0, n_points))


def _decaying_bursts(rng: np.random.Generator, n: int, per_second: float, make: Callable[[], np.ndarray]) -> np.ndarray:
    """(n,) sum of ``make()`` bursts at uniformly random positions, ``per_second`` on average."""
    out = np.zeros(n)
    for position in rng.integers(0, n, int(rng.poisson(per_second * n / SAMPLE_RATE_HZ))):
        burst = make()
        end = min(n, int(position) + len(burst))
        out[position:end] += burst[: end - position]
    return out


def coloured_noise(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """White, pink or brown noise, band-limited at random and slowly swelling (hiss-, surf-, rush-like)."""
    n = int(seconds * SAMPLE_RATE_HZ)
    noise, frequency_hz = _coloured(
        rng, n, NOISE_COLOURS_DB_PER_OCTAVE[int(rng.integers(len(NOISE_COLOURS_DB_PER_OCTAVE)))]
    )
    low_hz, high_hz = rng.uniform(20.0, 800.0), rng.uniform(1500.0, SAMPLE_RATE_HZ / 2)
    noise = np.fft.irfft(np.fft.rfft(noise) * ((frequency_hz >= low_hz) & (frequency_hz <= high_hz)), n)
    t = _time(seconds)
    return noise * (
        1.0 + rng.uniform(0.0, 0.8) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 2 * np.pi))
    )


def rain(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A pink hiss bed with drops: short upward-chirping decaying tones (1.5-5 kHz), 50-400 a second."""
    n = int(seconds * SAMPLE_RATE_HZ)
    bed, _ = _coloured(rng, n, -3.0)
    drop_t = np.arange(int(0.05 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ

    def drop() -> np.ndarray:
        start_hz = rng.uniform(1500.0, 5000.0)
        return (
            rng.uniform(0.05, 0.4) * np.exp(-drop_t / 0.005) * np.sin(2 * np.pi * start_hz * drop_t * (1 + 20 * drop_t))
        )

    return 0.3 * _unit_peak(bed) + _decaying_bursts(rng, n, rng.uniform(50.0, 400.0), drop)


def crackle(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Hiss with sparse clicks of random sign and decay, 5-200 a second (an old record, a fire, static)."""
    n = int(seconds * SAMPLE_RATE_HZ)
    hiss, _ = _coloured(rng, n, rng.uniform(-3.0, 0.0))

    def click() -> np.ndarray:
        length = int(rng.integers(20, 200))
        return rng.uniform(-1.0, 1.0) * np.exp(-np.arange(length) / rng.uniform(3.0, 30.0))

    return rng.uniform(0.05, 0.3) * _unit_peak(hiss) + rng.uniform(0.2, 1.0) * _decaying_bursts(
        rng, n, rng.uniform(5.0, 200.0), click
    )


def gusts(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Wind: low rumble (below 80-300 Hz) in gusts, over a quieter gusting rush of brownish noise."""
    n = int(seconds * SAMPLE_RATE_HZ)
    frequency_hz = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    rumble = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / (1 + (frequency_hz / rng.uniform(80.0, 300.0)) ** 4), n)
    rumble *= _slow_envelope(rng, n, rng.uniform(1.0, 4.0)) ** 3
    rush = np.fft.irfft(
        np.fft.rfft(rng.standard_normal(n))
        * (np.maximum(frequency_hz, 20.0) / 100.0) ** -0.5
        / (1 + (frequency_hz / rng.uniform(300.0, 1500.0)) ** 2),
        n,
    )
    rush *= 0.15 + _slow_envelope(rng, n, rng.uniform(0.5, 2.0)) ** 2
    return _unit_peak(rumble) + 0.3 * _unit_peak(rush)


NOISE_TEXTURES: dict[str, Callable[[np.random.Generator, float], np.ndarray]] = {
    "coloured": coloured_noise,
    "rain": rain,
    "crackle": crackle,
    "gusts": gusts,
}
"""Background textures a microphone picks up, so the tagger meets more than clean music and speech."""


def noise_texture(rng: np.random.Generator, seconds: float, kind: str | None = None) -> np.ndarray:
    """One of NOISE_TEXTURES (``kind``, else drawn at random), peak-normalised to NOISE_TEXTURE_PEAK."""
    kind = list(NOISE_TEXTURES)[int(rng.integers(len(NOISE_TEXTURES)))] if kind is None else kind
    out = NOISE_TEXTURES[kind](rng, seconds)
    return (NOISE_TEXTURE_PEAK * _unit_peak(out)).astype(np.float32)
