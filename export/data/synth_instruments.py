"""Procedurally synthesised instruments with random parameters (numpy/scipy only), 16 kHz mono.

Each *family* is one way of making sound, and a family is one training *source* (see
:mod:`export.data.source_holdout`): whole families are held out of training to measure how the students
generalise to timbres they never heard.

Tonal families render one note: ``render_note(family, params, pitch, duration_s, velocity)`` with ``params``
drawn once per song and instrument by ``draw_params(family, rng, register)`` (so one instrument keeps its
timbre through a song, and every song gets a new one). Drum families render one hit per drum class.
Every oscillator is band-limited (additive synthesis up to the Nyquist frequency), so nothing aliases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from export.data.sources import SAMPLE_RATE_HZ

NYQUIST_HZ = SAMPLE_RATE_HZ / 2
TONAL_FAMILIES = ("subtractive", "fm", "wavetable", "pluck", "additive", "pulse", "supersaw", "formant")
"""Ways of making a pitched sound; 'formant' is a sung vowel (glottal pulses through vowel formants)."""
DRUM_FAMILIES = ("analog", "noise_kit")
"""Ways of synthesising drum hits (a sine-sweep/noise analog kit; a noise-and-metal kit)."""
DRUM_CLASSES = ("kick", "snare", "hat")
"""The onset classes the drum-onset head predicts: kick; snare/clap/tom; hats/cymbals."""
VOWEL_FORMANTS_HZ = {  # (F1, F2, F3) of an adult voice
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
    "ae": (660, 1720, 2410),
    "er": (490, 1350, 1690),
}


def midi_to_hz(pitch: float) -> float:
    return float(440.0 * 2 ** ((pitch - 69) / 12))


def adsr(
    n_samples: int, attack_s: float, decay_s: float, sustain: float, release_s: float, note_samples: int
) -> np.ndarray:
    """(n_samples,) attack-decay-sustain envelope for ``note_samples``, then an exponential release."""
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    attack = np.clip(t / max(attack_s, 1e-4), 0, 1)
    decay = sustain + (1 - sustain) * np.exp(-np.maximum(t - attack_s, 0) / max(decay_s, 1e-3))
    envelope = np.where(t < attack_s, attack, decay)
    note_end_s = note_samples / SAMPLE_RATE_HZ
    release = np.exp(-np.maximum(t - note_end_s, 0) / max(release_s, 1e-3))
    return (envelope * release).astype(np.float32)


def phase_of(frequency_hz: np.ndarray) -> np.ndarray:
    """Instantaneous phase (radians) of a (n_samples,) frequency track."""
    return np.cumsum(2 * np.pi * frequency_hz / SAMPLE_RATE_HZ)


def additive(phase: np.ndarray, f0_hz: float, amplitudes: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
    """Sum of harmonics k=1.. with ``amplitudes[k-1]``, those above the Nyquist frequency left out."""
    n_harmonics = min(len(amplitudes), max(1, int(NYQUIST_HZ * 0.95 / max(f0_hz, 1.0))))
    k = np.arange(1, n_harmonics + 1)[:, None]
    offsets = np.zeros((n_harmonics, 1)) if phases is None else phases[:n_harmonics, None]
    return (amplitudes[:n_harmonics, None] * np.sin(k * phase[None, :] + offsets)).sum(axis=0)


def saw_amplitudes(n: int = 256) -> np.ndarray:
    return 1.0 / np.arange(1, n + 1)


def pulse_amplitudes(duty: float, n: int = 256) -> np.ndarray:
    k = np.arange(1, n + 1)
    return np.abs(np.sin(np.pi * k * duty)) / k


def lowpass(audio: np.ndarray, cutoff_hz: float, resonance_q: float = 0.707) -> np.ndarray:
    cutoff_hz = float(np.clip(cutoff_hz, 30.0, NYQUIST_HZ * 0.95))
    b, a = (
        signal.iirfilter(2, cutoff_hz, btype="lowpass", ftype="butter", fs=SAMPLE_RATE_HZ)
        if resonance_q <= 0.75
        else _resonant_lowpass(cutoff_hz, resonance_q)
    )
    return signal.lfilter(b, a, audio).astype(np.float32)


def _resonant_lowpass(cutoff_hz: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """RBJ cookbook biquad low-pass with quality ``q``."""
    w0 = 2 * np.pi * cutoff_hz / SAMPLE_RATE_HZ
    alpha = np.sin(w0) / (2 * q)
    cos_w0 = np.cos(w0)
    b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2])
    a = np.array([1 + alpha, -2 * cos_w0, 1 - alpha])
    return b / a[0], a / a[0]


def bandpass(audio: np.ndarray, centre_hz: float, q: float) -> np.ndarray:
    centre_hz = float(np.clip(centre_hz, 40.0, NYQUIST_HZ * 0.9))
    w0 = 2 * np.pi * centre_hz / SAMPLE_RATE_HZ
    alpha = np.sin(w0) / (2 * q)
    b = np.array([alpha, 0.0, -alpha])
    a = np.array([1 + alpha, -2 * np.cos(w0), 1 - alpha])
    return signal.lfilter(b / a[0], a / a[0], audio).astype(np.float32)


def highpass(audio: np.ndarray, cutoff_hz: float) -> np.ndarray:
    cutoff_hz = float(np.clip(cutoff_hz, 30.0, NYQUIST_HZ * 0.95))
    b, a = signal.iirfilter(2, cutoff_hz, btype="highpass", ftype="butter", fs=SAMPLE_RATE_HZ)
    return signal.lfilter(b, a, audio).astype(np.float32)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


# ------------------------------------------------------------------------------------------------ tonal


def draw_params(family: str, rng: np.random.Generator, register: str) -> dict[str, Any]:
    """Random parameters of one instrument of ``family`` ('bass', 'lead' or 'chords' register decides ranges)."""
    if family not in TONAL_FAMILIES:
        raise ValueError(f"unknown tonal family {family!r}; expected one of {TONAL_FAMILIES}")
    sustained = register != "bass" and rng.random() < 0.5
    params: dict[str, Any] = {
        "attack_s": _log_uniform(rng, 0.002, 0.25 if sustained else 0.03),
        "decay_s": _log_uniform(rng, 0.05, 1.5),
        "sustain": float(rng.uniform(0.2, 1.0) if sustained else rng.uniform(0.0, 0.7)),
        "release_s": _log_uniform(rng, 0.02, 0.4),
        "vibrato_hz": float(rng.uniform(4.0, 7.0)),
        "vibrato_depth": float(rng.choice([0.0, 0.0, rng.uniform(0.001, 0.012)])),
        "detune_cents": float(rng.normal(0, 6)),
        "drive": float(rng.choice([0.0, 0.0, rng.uniform(0.5, 4.0)])),
    }
    if family == "subtractive":
        params.update(
            shape=float(rng.uniform(0, 1)),
            cutoff_ratio=_log_uniform(rng, 1.5, 40.0),
            env_amount=_log_uniform(rng, 0.5, 20.0),
            q=float(rng.uniform(0.7, 6.0)),
            filter_decay_s=_log_uniform(rng, 0.03, 0.8),
        )
    elif family == "fm":
        params.update(
            ratio=float(rng.choice([0.5, 1.0, 1.0, 2.0, 3.0, 4.0, 1.41, 3.5, 7.0])),
            index=_log_uniform(rng, 0.3, 8.0),
            index_decay_s=_log_uniform(rng, 0.02, 1.5),
            feedback=float(rng.uniform(0, 0.5)),
        )
    elif family == "wavetable":
        n = 64
        params.update(
            table_a=rng.random(n) ** rng.uniform(1, 4) / np.arange(1, n + 1) ** rng.uniform(0.3, 1.5),
            table_b=rng.random(n) ** rng.uniform(1, 4) / np.arange(1, n + 1) ** rng.uniform(0.3, 1.5),
            morph_hz=_log_uniform(rng, 0.1, 4.0),
        )
    elif family == "pluck":
        params.update(
            damping=float(rng.uniform(0.9, 0.999)),
            brightness=float(rng.uniform(0.1, 1.0)),
            body_hz=_log_uniform(rng, 150, 3000),
        )
    elif family == "additive":
        params.update(
            drawbars=rng.random(9) ** 2,
            tremolo_hz=float(rng.uniform(0, 7)),
            tremolo_depth=float(rng.uniform(0, 0.4)),
            percussion=float(rng.uniform(0, 1)),
        )
    elif family == "pulse":
        params.update(
            duty=float(rng.choice([0.125, 0.25, 0.5, rng.uniform(0.1, 0.5)])),
            pwm_hz=float(rng.choice([0.0, rng.uniform(0.2, 5.0)])),
            steps=int(rng.choice([0, 8, 16])),
        )
    elif family == "supersaw":
        params.update(
            n_voices=int(rng.integers(3, 8)),
            spread_cents=float(rng.uniform(5, 35)),
            cutoff_ratio=_log_uniform(rng, 3.0, 60.0),
        )
    elif family == "formant":
        scale = float(rng.uniform(0.85, 1.25))  # vocal tract length: formants scale together
        params.update(
            formant_scale=scale,
            tilt=float(rng.uniform(1.2, 2.2)),
            breath=float(rng.uniform(0.0, 0.15)),
            bandwidth_q=float(rng.uniform(5, 15)),
            vibrato_depth=float(rng.uniform(0.004, 0.02)),
            jitter=float(rng.uniform(0.0, 0.01)),
            vowels=tuple(rng.choice(list(VOWEL_FORMANTS_HZ), 3)),
        )
    return params


def render_note(
    family: str, params: dict[str, Any], pitch: float, duration_s: float, velocity: float, rng: np.random.Generator
) -> np.ndarray:
    """One note of an instrument: (n_samples,) float32, peak about ``velocity`` (0..1), including its release."""
    note_samples = max(1, int(duration_s * SAMPLE_RATE_HZ))
    n_samples = note_samples + int(4 * params["release_s"] * SAMPLE_RATE_HZ)
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    f0 = midi_to_hz(pitch) * 2 ** (params["detune_cents"] / 1200)
    vibrato = 1 + params["vibrato_depth"] * np.sin(2 * np.pi * params["vibrato_hz"] * t) * np.clip(t / 0.3, 0, 1)
    frequency = f0 * vibrato
    phase = phase_of(frequency)
    envelope = adsr(
        n_samples, params["attack_s"], params["decay_s"], params["sustain"], params["release_s"], note_samples
    )
    if family == "subtractive":
        amplitudes = (1 - params["shape"]) * saw_amplitudes() + params["shape"] * pulse_amplitudes(0.5)
        raw = additive(phase, f0, amplitudes)
        cutoff = f0 * params["cutoff_ratio"] * (1 + params["env_amount"] * np.exp(-t / params["filter_decay_s"]))
        # time-varying cutoff: filter in 4 segments (cheap and smooth enough for timbre variety)
        sound = _segmented_lowpass(raw, cutoff, params["q"])
    elif family == "fm":
        index = params["index"] * (0.2 + 0.8 * np.exp(-t / params["index_decay_s"]))
        modulator = np.sin(params["ratio"] * phase + params["feedback"] * np.sin(params["ratio"] * phase))
        sound = np.sin(phase + index * modulator)
        sound = lowpass(sound, NYQUIST_HZ * 0.9)
    elif family == "wavetable":
        morph = 0.5 + 0.5 * np.sin(2 * np.pi * params["morph_hz"] * t)
        sound = (1 - morph) * additive(phase, f0, params["table_a"]) + morph * additive(phase, f0, params["table_b"])
    elif family == "pluck":
        sound = _karplus_strong(f0, n_samples, params, rng)
        envelope = adsr(n_samples, 0.001, 10.0, 1.0, params["release_s"], note_samples)
    elif family == "additive":
        partials = np.array([0.5, 1, 1.5, 2, 3, 4, 5, 6, 8])
        sound = sum(
            weight * np.sin(ratio * phase)
            for ratio, weight in zip(partials, params["drawbars"])
            if ratio * f0 < NYQUIST_HZ * 0.95
        )
        sound = np.asarray(sound) * (
            1 - params["tremolo_depth"] * (0.5 + 0.5 * np.sin(2 * np.pi * params["tremolo_hz"] * t))
        )
        sound = sound + params["percussion"] * np.sin(3 * phase) * np.exp(-t / 0.08) * (3 * f0 < NYQUIST_HZ)
    elif family == "pulse":
        duty = params["duty"] + (0.2 * np.sin(2 * np.pi * params["pwm_hz"] * t).mean() if params["pwm_hz"] else 0.0)
        sound = additive(phase, f0, pulse_amplitudes(float(np.clip(duty, 0.05, 0.95))))
        if params["steps"]:  # chiptune-style stepped volume
            envelope = np.round(envelope * params["steps"]) / params["steps"]
    elif family == "supersaw":
        spread = params["spread_cents"]
        sound = np.zeros(n_samples)
        for voice in range(params["n_voices"]):
            cents = spread * (voice / max(params["n_voices"] - 1, 1) - 0.5) * 2
            ratio = 2 ** (cents / 1200)
            sound += additive(phase * ratio + rng.uniform(0, 2 * np.pi), f0 * ratio, saw_amplitudes(96))
        sound = lowpass(sound, f0 * params["cutoff_ratio"])
    elif family == "formant":
        sound = _sung_vowel(phase, f0, t, params, rng)
    else:
        raise ValueError(f"unknown tonal family {family!r}")
    sound = np.asarray(sound, dtype=np.float64) * envelope
    if params["drive"] > 0:
        sound = np.tanh(params["drive"] * sound / max(float(np.abs(sound).max()), 1e-9)) / np.tanh(params["drive"])
    peak = max(float(np.abs(sound).max()), 1e-9)
    return (sound * (velocity / peak)).astype(np.float32)


def _segmented_lowpass(raw: np.ndarray, cutoff_hz: np.ndarray, q: float, n_segments: int = 6) -> np.ndarray:
    """Low-pass with a cutoff that changes per segment (filter state carried across segments)."""
    out = np.empty_like(raw)
    bounds = np.linspace(0, len(raw), n_segments + 1).astype(int)
    zi = np.zeros(2)
    for start, end in zip(bounds[:-1], bounds[1:]):
        if end <= start:
            continue
        b, a = _resonant_lowpass(float(np.clip(cutoff_hz[start], 30.0, NYQUIST_HZ * 0.95)), max(q, 0.5))
        out[start:end], zi = signal.lfilter(b, a, raw[start:end], zi=zi)
    return out


def _karplus_strong(f0_hz: float, n_samples: int, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A plucked string: a noise burst through a damped delay line (as one IIR filter), then a body resonance."""
    delay = max(2, int(round(SAMPLE_RATE_HZ / f0_hz)))
    excitation = np.zeros(n_samples)
    burst = rng.uniform(-1, 1, delay)
    burst = lowpass(burst, 500 + params["brightness"] * 7000)
    excitation[:delay] = burst[: min(delay, n_samples)]
    denominator = np.zeros(delay + 2)
    denominator[0] = 1.0
    denominator[delay] = denominator[delay + 1] = -params["damping"] / 2
    string = signal.lfilter([1.0], denominator, excitation)
    return string + 0.3 * bandpass(string, params["body_hz"], 2.0)


def _sung_vowel(
    phase: np.ndarray, f0_hz: float, t: np.ndarray, params: dict[str, Any], rng: np.random.Generator
) -> np.ndarray:
    """Glottal pulses (harmonics falling ~tilt per harmonic) through three vowel formants, moving between vowels."""
    jitter = 1 + params["jitter"] * np.convolve(rng.standard_normal(len(t)), np.ones(200) / 200, mode="same")
    source = additive(phase * jitter, f0_hz, 1.0 / np.arange(1, 200) ** params["tilt"])
    source = source + params["breath"] * rng.standard_normal(len(t)) * np.abs(np.sin(phase / 2))
    vowels = [VOWEL_FORMANTS_HZ[v] for v in params["vowels"]]
    halves = np.array_split(np.arange(len(t)), 2)
    out = np.zeros(len(t))
    for part, vowel in zip(halves, vowels[: len(halves)]):
        for index, formant_hz in enumerate(vowel):
            gain = (1.0, 0.6, 0.3)[index]
            out[part] += gain * bandpass(source, formant_hz * params["formant_scale"], params["bandwidth_q"])[part]
    return out


# ------------------------------------------------------------------------------------------------ drums


@dataclass(frozen=True)
class DrumVoice:
    """One synthesised drum sound, drawn once per song and drum: (n_samples,) float32 peak 1."""

    drum_class: str
    audio: np.ndarray


def synth_drum(family: str, drum: str, rng: np.random.Generator) -> np.ndarray:
    """A drum hit of ``family`` for GM-style ``drum`` ('kick', 'snare', 'clap', 'tom', 'closed_hat',
    'open_hat', 'crash', 'ride'), random tuning, decay and distortion; (n_samples,) float32 peak 1."""
    if family not in DRUM_FAMILIES:
        raise ValueError(f"unknown drum family {family!r}; expected one of {DRUM_FAMILIES}")
    noise = rng.standard_normal

    def env(decay_s: float, n: int) -> np.ndarray:
        return np.exp(-np.arange(n) / SAMPLE_RATE_HZ / decay_s)

    if drum == "kick":
        n = int(rng.uniform(0.15, 0.7) * SAMPLE_RATE_HZ)
        high, low = rng.uniform(90, 260), rng.uniform(38, 70)
        sweep = low + (high - low) * env(rng.uniform(0.01, 0.06), n)
        hit = np.sin(phase_of(sweep)) * env(rng.uniform(0.08, 0.5), n)
        hit += rng.uniform(0, 0.5) * highpass(noise(n), 2000) * env(0.004, n)
    elif drum in ("snare", "clap"):
        n = int(rng.uniform(0.12, 0.45) * SAMPLE_RATE_HZ)
        decay = rng.uniform(0.04, 0.25)
        if drum == "clap" or family == "noise_kit":
            bursts = np.zeros(n)
            for k in range(int(rng.integers(1, 5))):
                start = int(k * rng.uniform(0.006, 0.015) * SAMPLE_RATE_HZ)
                bursts[start:] += env(decay if k == 0 else 0.01, n - start)
            hit = bandpass(noise(n), rng.uniform(900, 3000), rng.uniform(0.7, 2.5)) * bursts
        else:
            tone_hz = rng.uniform(140, 330)
            tone = np.sin(phase_of(np.full(n, tone_hz))) * env(rng.uniform(0.02, 0.09), n)
            hit = rng.uniform(0.3, 1.0) * tone + highpass(noise(n), rng.uniform(800, 3000)) * env(decay, n)
    elif drum == "tom":
        n = int(rng.uniform(0.2, 0.6) * SAMPLE_RATE_HZ)
        high = rng.uniform(90, 300)
        hit = np.sin(phase_of(high * (0.7 + 0.3 * env(0.08, n)))) * env(rng.uniform(0.1, 0.4), n)
    elif drum in ("closed_hat", "open_hat", "crash", "ride"):
        decay = {
            "closed_hat": rng.uniform(0.01, 0.06),
            "open_hat": rng.uniform(0.15, 0.5),
            "crash": rng.uniform(0.6, 1.5),
            "ride": rng.uniform(0.4, 1.0),
        }[drum]
        n = int(min(6 * decay + 0.02, 2.0) * SAMPLE_RATE_HZ)
        if family == "analog":  # six detuned square waves, band-passed (the classic metallic hat)
            base = rng.uniform(200, 500)
            ratios = np.array([1.0, 1.304, 1.466, 1.787, 1.932, 2.536]) * rng.uniform(0.9, 1.1)
            metal = sum(np.sign(np.sin(phase_of(np.full(n, base * r)))) for r in ratios)
            hit = highpass(bandpass(np.asarray(metal, dtype=np.float64), rng.uniform(5000, 7400), 1.0), 4000)
        else:
            hit = highpass(noise(n), rng.uniform(3000, 7000))
        hit = hit * env(decay, n)
        if drum == "ride":
            hit += 0.3 * np.sin(phase_of(np.full(n, rng.uniform(2500, 5000)))) * env(decay, n)
    else:
        raise ValueError(f"unknown drum {drum!r}")
    drive = rng.choice([0.0, 0.0, rng.uniform(1.0, 5.0)])
    hit = np.asarray(hit, dtype=np.float64)
    hit /= max(float(np.abs(hit).max()), 1e-9)
    if drive:
        hit = np.tanh(drive * hit) / np.tanh(drive)
    return hit.astype(np.float32)
