"""Existing MIDI music rendered one stem at a time: Debian's planetblupi songs and the music21 corpus.

Channels become stems by their General MIDI program: the percussion channel -> 'drums', bass programs (32-39)
-> 'bass', voice programs (choir, voice oohs, synth voice, voice lead) -> 'vocals', everything else -> 'other'.
music21 chorales have no programs: the top part is sung ('vocals', choir aahs), the lowest part is played on
a bass ('bass'), the inner parts on a piano or strings ('other').
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edge._lazy import require
from export.data.multitrack import DEFAULT_SOUNDFONT, DRUM_CHANNEL, PEAK_LEVEL, SAMPLE_RATE_HZ, STEMS, render_midi

BASS_PROGRAMS = range(32, 40)
VOICE_PROGRAMS = (52, 53, 54, 85)
CHORALE_PROGRAMS = {"vocals": 52, "other": 48, "bass": 32}
SCORE_SUFFIXES = (".mxl", ".xml", ".krn", ".mid")
"""music21 corpus files that are scores (the corpus also holds harmonic analyses, .rntxt)."""
ALL_SOUND_OFF = 120
"""MIDI controller that silences every voice of a channel at once."""


def stem_of_channel(channel: int, program: int) -> str:
    if channel == DRUM_CHANNEL:
        return "drums"
    if program in BASS_PROGRAMS:
        return "bass"
    if program in VOICE_PROGRAMS:
        return "vocals"
    return "other"


def split_midi_by_stem(path: Path, max_seconds: float) -> dict[str, object]:
    """Read a MIDI file and return stem -> a ``mido.MidiFile`` holding only that stem's channels (plus all meta
    messages), cut after ``max_seconds``."""
    mido = require("mido", "export", "reading MIDI files")
    source = mido.MidiFile(str(path))
    merged = mido.merge_tracks(source.tracks)
    programs: dict[int, int] = {}
    tempo = 500_000
    elapsed_s = 0.0
    timeline: list[tuple[int, object]] = []  # (absolute tick, message)
    tick = cut_tick = 0
    for message in merged:
        tick += message.time
        elapsed_s += mido.tick2second(message.time, source.ticks_per_beat, tempo)
        if message.type == "set_tempo":
            tempo = message.tempo
        if elapsed_s > max_seconds:
            break
        cut_tick = tick
        if message.type == "program_change":
            programs.setdefault(message.channel, message.program)
        timeline.append((tick, message))
    stems: dict[str, object] = {}
    for stem in STEMS:
        track = mido.MidiTrack()
        previous = 0
        for event_tick, message in timeline:
            channel = getattr(message, "channel", None)
            if channel is not None and stem_of_channel(channel, programs.get(channel, 0)) != stem:
                continue
            track.append(message.copy(time=event_tick - previous))
            previous = event_tick
        if any(m.type == "note_on" and m.velocity > 0 for m in track):
            # Notes cut mid-way would sustain forever (fluidsynth renders until every voice is silent).
            channels = sorted({m.channel for m in track if hasattr(m, "channel")})
            for index, channel in enumerate(channels):
                delta = max(0, cut_tick - previous) if index == 0 else 0
                track.append(
                    mido.Message("control_change", channel=channel, control=ALL_SOUND_OFF, value=0, time=delta)
                )
            track.append(mido.MetaMessage("end_of_track", time=0))
            midi = mido.MidiFile(type=0, ticks_per_beat=source.ticks_per_beat)
            midi.tracks.append(track)
            stems[stem] = midi
    return stems


def _render_stems(midis: dict[str, object], max_seconds: float, soundfont: Path) -> dict[str, np.ndarray]:
    n_samples = int(max_seconds * SAMPLE_RATE_HZ)
    stems = {stem: np.zeros(n_samples, np.float32) for stem in STEMS}
    longest = 0
    with tempfile.TemporaryDirectory(prefix="sense-midi-") as directory:
        for stem, midi in midis.items():
            path = Path(directory) / f"{stem}.mid"
            midi.save(str(path))  # type: ignore[attr-defined]
            audio = render_midi(path, SAMPLE_RATE_HZ, soundfont)[:n_samples]
            stems[stem][: len(audio)] = audio
            longest = max(longest, len(audio))
    stems = {stem: audio[:longest] for stem, audio in stems.items()}
    peak = max(float(np.abs(sum(stems.values())).max()), 1e-9) if longest else 1.0
    return {stem: (audio * (PEAK_LEVEL / peak)).astype(np.float32) for stem, audio in stems.items()}


def render_midi_file(
    path: Path, max_seconds: float = 30.0, soundfont: Path = DEFAULT_SOUNDFONT
) -> dict[str, np.ndarray]:
    """Stem -> (n_samples,) float32 16 kHz for one MIDI file (silent stems are zeros); the mixture is their sum."""
    return _render_stems(split_midi_by_stem(path, max_seconds), max_seconds, soundfont)


def chorale_paths(n_pieces: int, rng: np.random.Generator) -> list[Path]:
    """Random Bach chorales (four-part) from the music21 corpus."""
    music21 = require("music21", "export", "reading the music21 corpus")
    paths = sorted(Path(p) for p in music21.corpus.getComposer("bach") if Path(p).suffix in SCORE_SUFFIXES)
    return [paths[i] for i in rng.permutation(len(paths))[:n_pieces]]


def render_chorale(path: Path, max_seconds: float = 30.0, soundfont: Path = DEFAULT_SOUNDFONT) -> dict[str, np.ndarray]:
    """A music21 corpus piece, top part -> 'vocals' (choir), lowest -> 'bass', the rest -> 'other'."""
    music21 = require("music21", "export", "reading the music21 corpus")
    mido = require("mido", "export", "reading MIDI files")
    score = music21.converter.parse(str(path))
    parts = list(score.parts)
    if len(parts) < 2:
        return {}
    roles = ["vocals"] + ["other"] * (len(parts) - 2) + ["bass"]
    midis: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="sense-chorale-") as directory:
        for stem in set(roles):
            stream = music21.stream.Score()
            for part, role in zip(parts, roles):
                if role == stem:
                    copy = part.flatten().notesAndRests.stream()
                    copy.insert(0, music21.instrument.instrumentFromMidiProgram(CHORALE_PROGRAMS[stem]))
                    stream.insert(0, copy)
            midi_path = Path(directory) / f"{stem}.mid"
            stream.write("midi", fp=str(midi_path))
            midis[stem] = mido.MidiFile(str(midi_path))
        return _render_stems(midis, max_seconds, soundfont)
