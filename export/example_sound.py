"""Synthesise the bundled example sound: 8 s of a small band we made ourselves (kick, snare, hi-hat, bass line,
chords and a voice-like formant melody, then a doorbell), so the demo and tests need no third-party audio.

    python -m export.example_sound edge/data/example.flac
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edge.stream import DEVICE_STREAM

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
TEMPO_BPM = 112.0
DURATION_S = 8.0


def _envelope(n_samples: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    return np.minimum(1.0, t / max(attack_s, 1e-4)) * np.exp(-t / decay_s)


def _place(track: np.ndarray, sound: np.ndarray, start_s: float) -> None:
    start = int(start_s * SAMPLE_RATE_HZ)
    end = min(len(track), start + len(sound))
    if start < end:
        track[start:end] += sound[: end - start]


def synthesize_example(seed: int = 7) -> dict[str, np.ndarray]:
    """Return stems 'drums', 'bass', 'other', 'vocals' and 'mix', each (n_samples,) float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    n_samples = int(DURATION_S * SAMPLE_RATE_HZ)
    beat_s = 60.0 / TEMPO_BPM
    stems = {name: np.zeros(n_samples) for name in ("drums", "bass", "other", "vocals")}
    n_beats = int(6.5 / beat_s)
    t_kick = np.arange(int(0.25 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-t_kick / 0.03)) * t_kick) * _envelope(len(t_kick), 0.001, 0.08)
    snare = rng.standard_normal(int(0.2 * SAMPLE_RATE_HZ)) * _envelope(int(0.2 * SAMPLE_RATE_HZ), 0.001, 0.05) * 0.5
    hat = (
        np.diff(rng.standard_normal(int(0.05 * SAMPLE_RATE_HZ) + 1))
        * _envelope(int(0.05 * SAMPLE_RATE_HZ), 0.0005, 0.012)
        * 0.25
    )
    bass_notes_hz = [55.0, 55.0, 65.4, 49.0]
    chord_roots_hz = [220.0, 220.0, 261.6, 196.0]
    melody_hz = [440.0, 493.9, 523.3, 587.3, 523.3, 493.9, 440.0, 392.0]
    for beat in range(n_beats):
        t0 = beat * beat_s
        _place(stems["drums"], kick if beat % 2 == 0 else snare, t0)
        _place(stems["drums"], hat, t0 + beat_s / 2)
        bar = (beat // 4) % 4
        n_note = int(beat_s * 0.9 * SAMPLE_RATE_HZ)
        t = np.arange(n_note) / SAMPLE_RATE_HZ
        bass = np.tanh(2.0 * np.sin(2 * np.pi * bass_notes_hz[bar] * t)) * _envelope(n_note, 0.005, 0.25) * 0.5
        _place(stems["bass"], bass, t0)
        if beat % 4 == 0:
            n_chord = int(4 * beat_s * SAMPLE_RATE_HZ)
            tc = np.arange(n_chord) / SAMPLE_RATE_HZ
            chord = sum(np.sign(np.sin(2 * np.pi * chord_roots_hz[bar] * ratio * tc)) for ratio in (1.0, 1.26, 1.5))
            _place(stems["other"], chord * _envelope(n_chord, 0.05, 1.5) * 0.05, t0)
        if beat >= 4:
            f0 = melody_hz[beat % len(melody_hz)]
            vibrato = 1 + 0.01 * np.sin(2 * np.pi * 5.5 * t)
            phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SAMPLE_RATE_HZ
            voice = sum(
                np.sin(k * phase) * np.exp(-(((k * f0 - 700.0) / 300.0) ** 2) - ((k * f0 - 1200.0) / 400.0) ** 2 * 0.5)
                for k in range(1, 12)
            )
            _place(stems["vocals"], voice * _envelope(n_note, 0.04, 0.6) * 0.35, t0)
    n_ding = int(0.7 * SAMPLE_RATE_HZ)
    td = np.arange(n_ding) / SAMPLE_RATE_HZ
    for start_s, f_hz in ((6.7, 659.3), (7.2, 523.3)):
        _place(stems["other"], np.sin(2 * np.pi * f_hz * td) * _envelope(n_ding, 0.002, 0.3) * 0.4, start_s)
    mix = sum(stems.values())
    peak = np.max(np.abs(mix)) / 0.9
    out = {name: (stem / peak).astype(np.float32) for name, stem in stems.items()}
    out["mix"] = (mix / peak).astype(np.float32)
    return out


def main(argv: list[str]) -> None:
    import soundfile

    path = Path(argv[0]) if argv else Path("edge/data/example.flac")
    soundfile.write(str(path), synthesize_example()["mix"], SAMPLE_RATE_HZ, subtype="PCM_16")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
