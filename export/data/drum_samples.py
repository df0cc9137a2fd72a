"""Real drum samples sequenced into drum stems: the drum notes of a generated song are played with one-shot
recordings from Debian's ``sonic-pi-samples`` and ``hydrogen-drumkits`` instead of the soundfont's kit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.stream import DEVICE_STREAM
from export.evaluate.heldout import is_heldout_sample
from export.data.multitrack import CLOSED_HAT, CRASH, KICK, OPEN_HAT, SNARE, Song, rendered_start_s
from export.data.sources import LoadReport, debian_data_dir, load_audio_files

DRUM_ROLES = {KICK: "kick", SNARE: "snare", CLOSED_HAT: "closed_hat", OPEN_HAT: "open_hat", CRASH: "crash"}
SONIC_PI_PATTERNS = {
    "kick": ("bd_*.flac", "drum_heavy_kick.flac", "drum_bass_*.flac", "elec_soft_kick.flac", "elec_hollow_kick.flac"),
    "snare": ("sn_*.flac", "drum_snare_*.flac", "elec_snare.flac", "elec_hi_snare.flac", "elec_mid_snare.flac"),
    "closed_hat": ("drum_cymbal_closed.flac", "drum_cymbal_pedal.flac", "elec_tick.flac"),
    "open_hat": ("drum_cymbal_open.flac", "drum_cymbal_soft.flac"),
    "crash": ("drum_cymbal_hard.flac", "drum_splash_*.flac", "elec_cymbal.flac"),
}
HYDROGEN_KEYWORDS = {
    "kick": ("kick", "bd", "bass"),
    "snare": ("snare", "sn"),
    "closed_hat": ("hat", "hh"),
    "open_hat": ("open",),
    "crash": ("crash", "ride", "cymbal"),
}
MAX_SAMPLE_SECONDS = 2.0
VELOCITY_FULL_SCALE = 127.0


@dataclass
class DrumKit:
    """One-shot samples per role ('kick', 'snare', 'closed_hat', 'open_hat', 'crash'), 16 kHz mono."""

    samples: dict[str, list[np.ndarray]]


def load_drum_kit(report: LoadReport, packages: tuple[str, ...] = ("sonic-pi-samples", "hydrogen-drumkits")) -> DrumKit:
    """All usable one-shots from the given Debian packages, grouped by role (file names decide the role)."""
    paths: dict[str, list[Path]] = {role: [] for role in SONIC_PI_PATTERNS}
    if "sonic-pi-samples" in packages:
        sonic_pi = debian_data_dir("sonic-pi-samples")
        for role, patterns in SONIC_PI_PATTERNS.items():
            for pattern in patterns:
                paths[role] += sorted(sonic_pi.glob(pattern))
    hydrogen_files = sorted(debian_data_dir("hydrogen-drumkits").rglob("*")) if "hydrogen-drumkits" in packages else []
    for path in hydrogen_files:
        if path.suffix.lower() not in (".wav", ".flac"):
            continue
        name = path.stem.lower()
        for role in ("open_hat", "kick", "snare", "closed_hat", "crash"):
            if any(keyword in name for keyword in HYDROGEN_KEYWORDS[role]):
                paths[role].append(path)
                break
    samples = {}
    for role, role_paths in paths.items():
        role_paths = [path for path in role_paths if not is_heldout_sample(path)]
        loaded = load_audio_files(role_paths, report, max_seconds=MAX_SAMPLE_SECONDS)
        samples[role] = [audio / max(float(np.abs(audio).max()), 1e-6) for _, audio in loaded]
    return DrumKit(samples)


def sequence_drums(
    song: Song,
    kit: DrumKit,
    n_samples: int,
    rng: np.random.Generator,
    sample_rate_hz: int = DEVICE_STREAM.sample_rate_hz,
) -> np.ndarray:
    """(n_samples,) drum stem: each drum note of ``song`` plays one sample of its role (one sample per role per
    song, chosen by ``rng``), scaled by velocity, starting when fluidsynth would start it."""
    chosen = {role: options[int(rng.integers(len(options)))] for role, options in kit.samples.items() if options}
    stem = np.zeros(n_samples, dtype=np.float32)
    for part in song.parts:
        if not part.is_drums:
            continue
        for note in part.notes:
            role = DRUM_ROLES.get(note.pitch)
            if role not in chosen:
                continue
            start = int(round(rendered_start_s(note.start_s, song.tempo_bpm, sample_rate_hz) * sample_rate_hz))
            sound = chosen[role] * (note.velocity / VELOCITY_FULL_SCALE)
            end = min(n_samples, start + len(sound))
            if start < end:
                stem[start:end] += sound[: end - start]
    return stem
