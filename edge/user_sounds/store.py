"""The user's own sounds: a small overlay next to the pack (``sounds.json``, the recordings, the cached
embedding model) in ``$SENSE_SOUNDS_DIR`` or ``~/.local/share/sense/sounds``, one folder per pack name.

The recordings are kept, so when the pack's tagger changes (retrained, another pack) every sound is learned
again from them on first use; nothing else about a sound depends on the tagger.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.stream import DEVICE_STREAM
from edge._lazy import require
from edge.audio_source import read_audio_file
from edge.errors import AudioInputError, ConfigError
from edge.haptics.spec import PATTERNS
from edge.pack import Pack
from edge.user_sounds.classifier import (
    MIN_CLIPS,
    Calibration,
    PrototypeClassifier,
    calibrate,
)
from edge.user_sounds.embedding import Embedder

FORMAT_NAME = "sense-user-sounds"
MAX_CLIPS = 10
MAX_CLIP_S = 10.0
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
NEGATIVES = Path(__file__).resolve().parents[1] / "data" / "negatives.flac"
MUSIC = Path(__file__).resolve().parents[1] / "data" / "example.flac"
TAIL_S = 1.0
"""Silence after each recording while embedding it, so the tagger's context slides past the whole sound."""
ACTIVE_BELOW_PEAK_DB = 20.0
MIN_LOUD_FRAMES = 6
"""A step hears the recording while its window holds this many frames (48 ms) within ACTIVE_BELOW_PEAK_DB of
the recording's loudest frame; steps that hold less look like silence, which must never count as the sound."""
ROOM_RT60_S = 0.5
"""Each recording is also learned as heard in a synthetic room with this reverberation time."""
DEFAULT_PRIORITY = 10
DEFAULT_PATTERN = "pulse"


def sounds_dir(pack: Pack, root: str | Path | None = None) -> Path:
    base = (
        Path(root)
        if root is not None
        else Path(os.environ.get("SENSE_SOUNDS_DIR", Path.home() / ".local/share/sense/sounds"))
    )
    return base / pack.name


@dataclass
class UserSound:
    """One learned sound and the rig preset it plays: ``pattern`` on ``group`` at ``priority`` (music is 0,
    speech 5, the bundled alerts 8–12), interrupting the music."""

    name: str
    clips: list[str]
    pattern: str = DEFAULT_PATTERN
    priority: int = DEFAULT_PRIORITY
    group: str = "all"
    embedding_key: str = ""
    embedding_source: str = ""
    prototypes: list[list[float]] = field(default_factory=list)
    threshold: float = 1.0
    calibration: dict[str, Any] = field(default_factory=dict)

    def classifier(self) -> PrototypeClassifier:
        return PrototypeClassifier(np.array(self.prototypes, dtype=np.float32), self.threshold)


def active_steps(embedder: Embedder, audio: np.ndarray) -> np.ndarray:
    """Embeddings of the tagger steps whose window hears ``audio`` (a recording followed by TAIL_S silence)."""
    padded = np.concatenate([audio, np.zeros(int(TAIL_S * DEVICE_STREAM.sample_rate_hz), dtype=np.float32)])
    steps = embedder.embed(padded)
    level_db = 10 * np.log10(np.maximum((embedder.magnitudes(padded) ** 2).sum(axis=1), 1e-12))
    loud = np.flatnonzero(level_db >= level_db.max() - ACTIVE_BELOW_PEAK_DB)
    ends = np.arange(1, len(steps) + 1) * embedder.every_n_hops  # a step's window is [end - context, end)
    hears = np.array(
        [np.count_nonzero((loud < end) & (loud >= end - embedder.context_frames)) >= MIN_LOUD_FRAMES for end in ends],
        dtype=bool,
    )
    return steps[hears]


def takes_of(audio: np.ndarray) -> list[np.ndarray]:
    """The takes a recording is learned from: as recorded, and in a synthetic room (exponentially decaying
    noise reverb, ROOM_RT60_S). Not over music: a sound mixed with music looks to the tagger mostly like the
    music, so such prototypes would fire on music alone (measured: benchmarks/bench_user_sounds.py)."""
    peak = max(float(np.abs(audio).max()), 1e-6)
    n_tail = int(ROOM_RT60_S * DEVICE_STREAM.sample_rate_hz)
    impulse = np.random.default_rng(0).standard_normal(n_tail) * np.exp(-6.9 * np.arange(n_tail) / n_tail) * 0.3
    impulse[0] = 1.0
    wet = np.convolve(audio, impulse)[: len(audio) + n_tail]
    return [np.asarray(audio, dtype=np.float32), (wet * peak / max(float(np.abs(wet).max()), 1e-6)).astype(np.float32)]


def negative_steps(embedder: Embedder) -> np.ndarray:
    """Embeddings of every tagger step over the bundled negative material (speech, noise, the example music)."""
    return np.concatenate([embedder.embed(read_audio_file(path)) for path in (NEGATIVES, MUSIC)])


class SoundStore:
    """The user sounds of one pack: load, learn, remove, and re-learn when the tagger changed."""

    def __init__(self, pack: Pack, root: str | Path | None = None, n_threads: int = 1) -> None:
        self.pack = pack
        self.dir = sounds_dir(pack, root)
        self.index = self.dir / "sounds.json"
        self._embedder: Embedder | None = None
        self.n_threads = n_threads
        self.sounds = self._load()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.pack, self.dir, self.n_threads)
        return self._embedder

    def _load(self) -> dict[str, UserSound]:
        if not self.index.exists():
            return {}
        try:
            document = json.loads(self.index.read_text(encoding="utf-8"))
            if document.get("format") != FORMAT_NAME:
                raise ValueError(f"format is {document.get('format')!r}, expected {FORMAT_NAME!r}")
            return {entry["name"]: UserSound(**entry) for entry in document["sounds"]}
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"user sounds {self.index}: cannot read it ({error}); remove it to start over") from None

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        document = {
            "format": FORMAT_NAME,
            "version": 1,
            "pack": self.pack.name,
            "sounds": [asdict(sound) for sound in self.sounds.values()],
        }
        self.index.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    def learn(
        self,
        name: str,
        clip_paths: list[Path],
        pattern: str = DEFAULT_PATTERN,
        priority: int = DEFAULT_PRIORITY,
        group: str = "all",
    ) -> tuple[UserSound, Calibration]:
        """Copy the recordings into the overlay (16 kHz mono FLAC) and learn ``name`` from them."""
        if not NAME_PATTERN.match(name):
            raise ConfigError(
                f"sound name {name!r}: use 1-32 lower-case letters, digits and '-', starting with a letter or digit"
            )
        if not MIN_CLIPS <= len(clip_paths) <= MAX_CLIPS:
            raise ConfigError(
                f"sound {name!r}: {len(clip_paths)} recordings; give {MIN_CLIPS} to {MAX_CLIPS} short ones"
            )
        if pattern not in PATTERNS:
            raise ConfigError(f"sound {name!r}: pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
        soundfile = require("soundfile", "core", "storing recordings")
        clips = []
        for index, path in enumerate(clip_paths):
            audio = read_audio_file(path)
            if len(audio) > MAX_CLIP_S * DEVICE_STREAM.sample_rate_hz:
                raise AudioInputError(
                    f"{path}: {len(audio) / DEVICE_STREAM.sample_rate_hz:.1f} s; recordings of a sound must be "
                    f"at most {MAX_CLIP_S:.0f} s (trim it around the sound)"
                )
            if float(np.abs(audio).max()) < 1e-3:
                raise AudioInputError(f"{path}: silent (peak below -60 dBFS); record the sound closer or louder")
            relative = f"clips/{name}-{index + 1}.flac"
            (self.dir / "clips").mkdir(parents=True, exist_ok=True)
            soundfile.write(self.dir / relative, audio, DEVICE_STREAM.sample_rate_hz, subtype="PCM_16")
            clips.append(relative)
        sound = UserSound(name=name, clips=clips, pattern=pattern, priority=priority, group=group)
        calibration = self._fit(sound)
        self.sounds[name] = sound
        self.save()
        return sound, calibration

    def _fit(self, sound: UserSound) -> Calibration:
        embedder = self.embedder
        recordings = [
            [active_steps(embedder, take) for take in takes_of(read_audio_file(self.dir / relative))]
            for relative in sound.clips
        ]
        classifier, calibration = calibrate(recordings, negative_steps(embedder))
        sound.embedding_key, sound.embedding_source = embedder.key, embedder.source
        sound.prototypes = classifier.prototypes.round(6).tolist()
        sound.threshold = round(classifier.threshold, 6)
        sound.calibration = asdict(calibration)
        return calibration

    def current(self, name: str) -> UserSound:
        """The sound ``name``, learned again from its recordings if the tagger changed since."""
        if name not in self.sounds:
            known = ", ".join(self.sounds) or "none yet (sense learn NAME CLIP...)"
            raise ConfigError(f"no user sound {name!r} for pack {self.pack.name}; learned: {known}")
        sound = self.sounds[name]
        if sound.embedding_key != self.embedder.key:
            self._fit(sound)
            self.save()
        return sound

    def remove(self, name: str) -> None:
        sound = self.sounds.pop(name, None)
        if sound is None:
            raise ConfigError(
                f"no user sound {name!r} for pack {self.pack.name}; learned: {', '.join(self.sounds) or 'none'}"
            )
        for relative in sound.clips:
            (self.dir / relative).unlink(missing_ok=True)
        self.save()

    def detections_s(self, name: str, audio: np.ndarray) -> np.ndarray:
        """Times (s, end of the tagger step) where ``name`` is detected in 16 kHz ``audio``."""
        sound = self.current(name)
        steps = self.embedder.embed(audio)
        hits = sound.classifier().detects(steps)
        step_s = self.embedder.every_n_hops * self.embedder.hop / DEVICE_STREAM.sample_rate_hz
        return (np.flatnonzero(hits) + 1) * step_s
