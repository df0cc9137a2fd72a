"""The held-out evaluation material: pieces never used in training or tuning.

Separation: songs from the multitrack generator (``export.data.multitrack``) with seeds in
[HELDOUT_SEED_START, HELDOUT_SEED_START + HELDOUT_SEED_COUNT), rendered with fluidsynth and the FluidR3 General
MIDI soundfont, one part at a time, so every mixture has exact stems. Training and validation draw their seeds
below HELDOUT_SEED_START; :func:`check_training_seed` is the guard the data pipeline calls.

Tagging: the same held-out songs (music, singing-like lead, drums, bass, guitar/piano/strings), held-out speech
synthesised by ``espeak-ng`` from sentences that appear nowhere in the training recipes (HELDOUT_SENTENCES), that
speech over the songs, synthetic sound events (sirens, alarms, doorbells, phone rings, knocks, claps from
``export.data.sound_events``, drawn from held-out random streams) alone and over the songs, and a few Debian
``sonic-pi-samples`` files reserved for evaluation (HELDOUT_SAMPLE_FILES; training must skip them:
:func:`is_heldout_sample`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np

from edge import DEVICE_SAMPLE_RATE_HZ
from edge.audio_source import read_audio_file
from edge.errors import ConfigError

if TYPE_CHECKING:
    from export.data.varied_songs import VariedSong

HELDOUT_SEED_START = 1_000_000
"""First seed of the held-out songs; every seed at or above it is reserved for evaluation."""
HELDOUT_SEED_COUNT = 1_000
DEFAULT_N_SECTIONS = 5
"""Sections per held-out song (two bars each): 16-28 s of music with solo and full-band parts."""
HELDOUT_SENTENCES = (
    "The lighthouse keeper counted forty seven gulls before the storm reached the northern cliffs.",
    "Please move the violet umbrella away from the open window before the evening rain begins.",
    "A quiet engineer measured the copper wire twice and then wrote the numbers on a paper card.",
    "Seven orange lanterns drifted slowly along the canal while the bakery closed its doors.",
)
"""Speech for the tagging evaluation; training recipes must not use these sentences."""
ESPEAK_VOICES = ("en", "en-us")
SONIC_PI_SAMPLES_DIR = Path("/usr/share/sonic-pi/samples")
HELDOUT_SAMPLE_FILES = (
    "loop_amen_full.flac",
    "loop_tabla.flac",
    "drum_roll.flac",
    "guit_em9.flac",
    "perc_door.flac",
    "vinyl_hiss.flac",
    "ambi_piano.flac",
)
"""Sonic Pi samples reserved for the tagging evaluation (drum loops, guitar, knock, hiss, piano)."""
SPEECH_OVER_MUSIC_GAIN = 1.0
"""Speech is mixed over a song at this RMS ratio (0 dB)."""
EVENT_OVER_MUSIC_GAIN = 0.5
"""Events are mixed over a song at this RMS ratio (-6 dB)."""
EVENT_SECONDS = 4.0
HELDOUT_EVENT_STREAM = 1
"""Held-out events come from ``np.random.default_rng([HELDOUT_SEED_START, HELDOUT_EVENT_STREAM, index])``: a seed
sequence no training recipe (integer seeds below HELDOUT_SEED_START) can draw."""


@dataclass(frozen=True)
class Piece:
    """One held-out item: ``mixture`` (n_samples,) float32 at 16 kHz and, for music, its exact stems."""

    name: str
    mixture: np.ndarray
    stems: dict[str, np.ndarray]


def is_heldout_seed(seed: int) -> bool:
    return seed >= HELDOUT_SEED_START


def check_training_seed(seed: int) -> int:
    """Return ``seed`` if training may use it, else a ConfigError (it belongs to the held-out set)."""
    if is_heldout_seed(seed):
        raise ConfigError(
            f"seed {seed} is reserved for held-out evaluation (seeds >= {HELDOUT_SEED_START}); "
            f"train on seeds below {HELDOUT_SEED_START}"
        )
    return seed


def is_heldout_sample(path: str | Path) -> bool:
    """True for a sound file reserved for evaluation (training and tuning must skip it)."""
    return Path(path).name in HELDOUT_SAMPLE_FILES


def heldout_songs(n_songs: int, n_sections: int = DEFAULT_N_SECTIONS, first: int = 0) -> list[Piece]:
    """Render held-out songs ``first`` .. ``first + n_songs - 1`` of the reserved seed range."""
    if first < 0 or first + n_songs > HELDOUT_SEED_COUNT:
        raise ConfigError(f"held-out songs {first}..{first + n_songs - 1}: only {HELDOUT_SEED_COUNT} are reserved")
    from export.data.multitrack import render_multitrack

    pieces = []
    for index in range(first, first + n_songs):
        seed = HELDOUT_SEED_START + index
        track = render_multitrack(seed, n_sections=n_sections, sample_rate_hz=DEVICE_SAMPLE_RATE_HZ)
        pieces.append(Piece(f"song-{seed}", track.mixture, track.stems))
    return pieces


OUT_OF_SOURCE_STREAM = 2
"""Out-of-source songs come from ``np.random.default_rng([HELDOUT_SEED_START + index, OUT_OF_SOURCE_STREAM])``."""
OUT_OF_SOURCE_BARS = 10
"""Bars per out-of-source song (five two-bar sections, solo and full-band parts)."""


def out_of_source_song(index: int, n_bars: int = OUT_OF_SOURCE_BARS) -> VariedSong:
    """Out-of-source song ``index``: every stem from a source no training recipe may use
    (export.data.source_holdout: other soundfonts, synth families, drum kits, voices), from a held-out seed."""
    if not 0 <= index < HELDOUT_SEED_COUNT:
        raise ConfigError(f"out-of-source song {index}: only {HELDOUT_SEED_COUNT} seeds are reserved")
    from export.data.varied_songs import render_varied_song

    return render_varied_song(
        np.random.default_rng([HELDOUT_SEED_START + index, OUT_OF_SOURCE_STREAM]), n_bars, "heldout"
    )


def out_of_source_songs(n_songs: int, n_bars: int = OUT_OF_SOURCE_BARS) -> list[Piece]:
    """:func:`out_of_source_song` 0 .. n_songs - 1 as pieces with exact stems, 16 kHz mono."""
    pieces = []
    for index in range(n_songs):
        song = out_of_source_song(index, n_bars)
        track = song.as_multitrack()
        pieces.append(Piece(f"oos-{index}", track.mixture, track.stems))
    return pieces


def heldout_speech(n_items: int = len(HELDOUT_SENTENCES)) -> list[Piece]:
    """Speech from ``espeak-ng`` (Debian package espeak-ng), 16 kHz mono, one item per held-out sentence."""
    if shutil.which("espeak-ng") is None:
        raise ConfigError("held-out speech needs the 'espeak-ng' program (Debian package espeak-ng)")
    pieces = []
    with tempfile.TemporaryDirectory(prefix="sense-heldout-") as directory:
        for index, sentence in enumerate(HELDOUT_SENTENCES[:n_items]):
            path = Path(directory) / f"speech-{index}.wav"
            voice = ESPEAK_VOICES[index % len(ESPEAK_VOICES)]
            result = subprocess.run(
                ["espeak-ng", "-v", voice, "-w", str(path), sentence], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise ConfigError(f"espeak-ng failed ({result.returncode}): {result.stderr.strip()[-300:]}")
            pieces.append(Piece(f"speech-{index}", read_audio_file(path), {}))
    return pieces


def heldout_samples() -> list[Piece]:
    """The reserved Sonic Pi samples (Debian package sonic-pi-samples), 16 kHz mono."""
    missing = [name for name in HELDOUT_SAMPLE_FILES if not (SONIC_PI_SAMPLES_DIR / name).is_file()]
    if missing:
        raise ConfigError(
            f"held-out samples {missing} not found in {SONIC_PI_SAMPLES_DIR} (Debian package sonic-pi-samples)"
        )
    return [
        Piece(f"sample-{Path(name).stem}", read_audio_file(SONIC_PI_SAMPLES_DIR / name), {})
        for name in HELDOUT_SAMPLE_FILES
    ]


def heldout_events(n_per_kind: int) -> list[Piece]:
    """``n_per_kind`` synthetic events of every kind in ``export.data.sound_events``, EVENT_SECONDS long."""
    from export.data.sound_events import EVENT_GENERATORS, synthesize_event

    return [
        Piece(
            f"event-{kind}-{index}",
            synthesize_event(
                kind,
                np.random.default_rng([HELDOUT_SEED_START, HELDOUT_EVENT_STREAM, k * n_per_kind + index]),
                EVENT_SECONDS,
            ),
            {},
        )
        for k, kind in enumerate(EVENT_GENERATORS)
        for index in range(n_per_kind)
    ]


def over_song(item: Piece, song: Piece, rms_ratio: float) -> Piece:
    """``item`` mixed at ``rms_ratio`` (item RMS / song RMS) over the start of ``song``, peak-limited to 1 (no stems)."""
    music = song.mixture[: len(item.mixture)]
    foreground = item.mixture[: len(music)]
    gain = rms_ratio * np.sqrt(np.mean(music**2) / max(float(np.mean(foreground**2)), 1e-12))
    mixture = music + gain * foreground
    return Piece(
        f"{item.name}-over-{song.name}", (mixture / max(1.0, float(np.abs(mixture).max()))).astype(np.float32), {}
    )


def heldout_tagging_pieces(
    songs: list[Piece], n_speech: int = len(HELDOUT_SENTENCES), with_samples: bool = True, n_events_per_kind: int = 0
) -> list[Piece]:
    """Songs, speech, speech over songs, events alone and over songs, and (``with_samples``) the reserved Sonic Pi
    samples."""
    speech = heldout_speech(n_speech)
    events = heldout_events(n_events_per_kind) if n_events_per_kind else []

    def over_songs(items: list[Piece], rms_ratio: float) -> list[Piece]:
        return [over_song(item, songs[i % len(songs)], rms_ratio) for i, item in enumerate(items)] if songs else []

    return [
        *songs,
        *speech,
        *over_songs(speech, SPEECH_OVER_MUSIC_GAIN),
        *events,
        *over_songs(events, EVENT_OVER_MUSIC_GAIN),
        *(heldout_samples() if with_samples else []),
    ]
