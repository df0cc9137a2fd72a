"""Build ``edge/data/negatives.flac``: the bundled negative material ``sense learn`` calibrates a user sound's
threshold against (besides the bundled example music): speech in several espeak-ng voices and noise textures.

Run: ``.venv/bin/python -m export.user_sound_negatives`` (needs the Debian package espeak-ng).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from edge.stream import DEVICE_STREAM
from export.data.sound_events import noise_texture

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
OUT = Path(__file__).resolve().parents[1] / "edge" / "data" / "negatives.flac"
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en-gb+m7", "en-us+f5")
SENTENCES = (
    "The train to the city leaves from platform four in ten minutes.",
    "Could you pass me the salt and the pepper, please?",
    "We walked along the river until the sun went down behind the hills.",
    "Turn left at the second light, then keep going past the school.",
    "I think the meeting moved to Thursday afternoon at three.",
    "Numbers one, two, three, four, five, six, seven, eight, nine, ten.",
)
NOISE_SECONDS = 2.0
SEED = 19


def speak(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text], check=True)
        audio, rate_hz = soundfile.read(wav, dtype="float32")
    from edge.audio_source import resample

    return resample(audio, rate_hz)


def main() -> None:
    rng = np.random.default_rng(SEED)
    parts = []
    for voice, text in zip(VOICES, SENTENCES):
        speech = speak(text, voice)
        parts.append(0.5 * speech / max(float(np.abs(speech).max()), 1e-6))
    for _ in range(4):
        parts.append(noise_texture(rng, NOISE_SECONDS).astype(np.float32))
    gap = np.zeros(SAMPLE_RATE_HZ // 4, dtype=np.float32)
    audio = np.concatenate([np.concatenate([part, gap]) for part in parts])
    soundfile.write(OUT, audio, SAMPLE_RATE_HZ, subtype="PCM_16")
    print(f"wrote {OUT}: {len(audio) / SAMPLE_RATE_HZ:.1f} s")


if __name__ == "__main__":
    main()
