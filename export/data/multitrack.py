"""Generated multitrack music with exact stems and known onsets (no torch here).

A seeded song generator writes drum grooves, bass lines, chords and a lead line as MIDI (``mido``), and
``fluidsynth`` renders ONE part at a time with a General MIDI soundfont, so every mixture comes with its exact
stems ("vocals" = a voice-like lead, "drums", "bass", "other") and the drum onset times. Output: 16 kHz mono.

Songs are built from two-bar sections, each with the set of stems that play in it (e.g. a bass-only intro), so
benchmarks can measure crosstalk where only one stem sounds.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from edge.stream import DEVICE_STREAM

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
STEMS = ("vocals", "drums", "bass", "other")
DRUM_CHANNEL = 9  # General MIDI percussion channel (0-based)
TICKS_PER_BEAT = 480
BEATS_PER_BAR = 4
STEPS_PER_BAR = 16  # sixteenth-note grid
BARS_PER_SECTION = 2
PEAK_LEVEL = 0.9  # the mixture is scaled so its peak is this
FLUIDSYNTH_BLOCK = 64  # samples; fluidsynth starts MIDI events at block boundaries

# General MIDI programs (0-based) per stem.
VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, lead 6 (voice)
BASS_PROGRAMS = (32, 33, 34, 38, 39)  # acoustic, finger, pick, synth bass 1 and 2
OTHER_PROGRAMS = (0, 4, 24, 48, 89)  # piano, electric piano, nylon guitar, strings, warm pad

KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
# Groove templates on the 16-step grid: {drum note: steps}.
GROOVES: tuple[dict[int, tuple[int, ...]], ...] = (
    {KICK: (0, 8), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},  # straight rock
    {KICK: (0, 6, 8), SNARE: (4, 12), CLOSED_HAT: (0, 4, 8, 12), OPEN_HAT: (14,)},  # pop
    {KICK: (0, 4, 8, 12), SNARE: (4, 12), OPEN_HAT: (2, 6, 10, 14)},  # four on the floor
    {KICK: (0, 3, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},  # funk
)
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 4))  # scale degrees, one chord per bar
ARRANGEMENTS = (
    (("bass",), STEMS, ("drums",), STEMS, ("bass", "other")),
    (("bass",), ("drums", "bass"), STEMS, ("bass",), STEMS),
    (("drums",), ("bass",), STEMS, ("vocals", "other"), STEMS),
)


@dataclass(frozen=True)
class Note:
    start_s: float
    duration_s: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    """One instrument: a stem name, a GM program (ignored for drums) and its notes."""

    stem: str
    program: int
    notes: tuple[Note, ...]

    @property
    def is_drums(self) -> bool:
        return self.stem == "drums"


@dataclass(frozen=True)
class Song:
    seed: int
    tempo_bpm: float
    key_root: int
    minor: bool
    parts: tuple[Part, ...]
    sections: tuple[tuple[float, float, tuple[str, ...]], ...]  # (start_s, end_s, stems playing)
    duration_s: float


@dataclass
class Multitrack:
    """A rendered song: ``mixture`` (n_samples,) and ``stems`` name -> (n_samples,), float32, sum(stems) == mixture."""

    song: Song
    mixture: np.ndarray
    stems: dict[str, np.ndarray]
    sample_rate_hz: int
    drum_onsets_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def intervals_with_only(self, stem: str) -> list[tuple[float, float]]:
        """(start_s, end_s) of the sections where ``stem`` is the only stem playing."""
        return [(start, end) for start, end, stems in self.song.sections if stems == (stem,)]

    def intervals_with(self, stem: str) -> list[tuple[float, float]]:
        return [(start, end) for start, end, stems in self.song.sections if stem in stems]


def _scale_pitch(root: int, scale: tuple[int, ...], degree: int, octave: int) -> int:
    return 12 * (octave + 1) + root + scale[degree % 7] + 12 * (degree // 7)


def generate_song(seed: int, n_sections: int = 5) -> Song:
    """A seeded random song: tempo 85-150 bpm, any key, major or minor, varied instruments and grooves."""
    rng = np.random.default_rng(seed)
    tempo_bpm = float(rng.integers(85, 151))
    beat_s = 60.0 / tempo_bpm
    step_s = beat_s * BEATS_PER_BAR / STEPS_PER_BAR
    bar_s = beat_s * BEATS_PER_BAR
    key_root = int(rng.integers(0, 12))
    minor = bool(rng.integers(0, 2))
    scale = MINOR if minor else MAJOR
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    groove = GROOVES[int(rng.integers(len(GROOVES)))]
    arrangement = ARRANGEMENTS[int(rng.integers(len(ARRANGEMENTS)))][:n_sections]
    bass_pattern = (0, 6, 8, 14) if rng.integers(2) else (0, 4, 8, 10, 12)
    notes: dict[str, list[Note]] = {stem: [] for stem in STEMS}
    sections = []
    melody_degree = int(rng.integers(0, 7))
    for section_index, playing in enumerate(arrangement):
        section_start_s = section_index * BARS_PER_SECTION * bar_s
        sections.append((section_start_s, section_start_s + BARS_PER_SECTION * bar_s, tuple(playing)))
        for bar_in_section in range(BARS_PER_SECTION):
            bar_index = section_index * BARS_PER_SECTION + bar_in_section
            bar_start_s = bar_index * bar_s
            chord_degree = progression[bar_index % len(progression)]
            if "drums" in playing:
                for drum, steps in groove.items():
                    for step in steps:
                        velocity = (
                            int(rng.integers(70, 110)) if drum in (CLOSED_HAT, OPEN_HAT) else int(rng.integers(95, 125))
                        )
                        notes["drums"].append(Note(bar_start_s + step * step_s, step_s, drum, velocity))
                if bar_in_section == 0 and section_index > 0:
                    notes["drums"].append(Note(bar_start_s, step_s, CRASH, 100))
            if "bass" in playing:
                root = _scale_pitch(key_root, scale, chord_degree, 1)
                for index, step in enumerate(bass_pattern):
                    pitch = root + (7 if index == len(bass_pattern) - 1 and rng.integers(2) else 0)
                    notes["bass"].append(
                        Note(bar_start_s + step * step_s, 2 * step_s, pitch, int(rng.integers(90, 120)))
                    )
            if "other" in playing:
                chord = [_scale_pitch(key_root, scale, chord_degree + offset, 4) for offset in (0, 2, 4)]
                if rng.integers(2):
                    for pitch in chord:
                        notes["other"].append(Note(bar_start_s, bar_s * 0.95, pitch, 70))
                else:  # arpeggio in eighths
                    for index in range(8):
                        notes["other"].append(Note(bar_start_s + index * 2 * step_s, 2 * step_s, chord[index % 3], 75))
            if "vocals" in playing:
                step = 0
                while step < STEPS_PER_BAR:
                    length = int(rng.choice([2, 4, 4, 6, 8]))
                    if rng.random() < 0.8:
                        melody_degree = int(np.clip(melody_degree + rng.integers(-2, 3), -3, 9))
                        pitch = _scale_pitch(key_root, scale, melody_degree, 4)
                        notes["vocals"].append(Note(bar_start_s + step * step_s, length * step_s * 0.9, pitch, 100))
                    step += length
    programs = {
        "vocals": int(rng.choice(VOICE_PROGRAMS)),
        "drums": 0,
        "bass": int(rng.choice(BASS_PROGRAMS)),
        "other": int(rng.choice(OTHER_PROGRAMS)),
    }
    parts = tuple(Part(stem, programs[stem], tuple(notes[stem])) for stem in STEMS)
    return Song(seed, tempo_bpm, key_root, minor, parts, tuple(sections), len(arrangement) * BARS_PER_SECTION * bar_s)


def write_midi(part: Part, tempo_bpm: float, path: Path) -> None:
    """Write one part as a type-0 MIDI file (program change, then its notes)."""
    mido = require("mido", "export", "writing MIDI for multitrack rendering")
    channel = DRUM_CHANNEL if part.is_drums else 0
    seconds_per_tick = 60.0 / tempo_bpm / TICKS_PER_BEAT
    events: list[tuple[int, int, object]] = []  # (tick, order: note-offs first, message)
    for note in part.notes:
        on_tick = int(round(note.start_s / seconds_per_tick))
        off_tick = max(on_tick + 1, int(round((note.start_s + note.duration_s) / seconds_per_tick)))
        events.append((on_tick, 1, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)))
        events.append((off_tick, 0, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    if not part.is_drums:
        track.append(mido.Message("program_change", channel=channel, program=part.program, time=0))
    previous_tick = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - previous_tick))  # type: ignore[attr-defined]
        previous_tick = tick
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    midi.save(str(path))


def render_midi(midi_path: Path, sample_rate_hz: int, soundfont: Path = DEFAULT_SOUNDFONT) -> np.ndarray:
    """Render a MIDI file with fluidsynth (no reverb, no chorus) to (n_samples,) float32 mono."""
    soundfile = require("soundfile", "export", "reading fluidsynth output")
    if shutil.which("fluidsynth") is None:
        raise ConfigError("multitrack rendering needs the 'fluidsynth' program (Debian package fluidsynth)")
    if not soundfont.exists():
        raise ConfigError(f"soundfont {soundfont} not found (Debian package fluid-soundfont-gm)")
    wav_path = midi_path.with_suffix(".wav")
    command = [
        "fluidsynth",
        "-ni",
        "-q",
        "-R",
        "0",
        "-C",
        "0",
        "-g",
        "0.5",
        "-r",
        str(sample_rate_hz),
        "-F",
        str(wav_path),
        str(soundfont),
        str(midi_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wav_path.exists():
        raise ConfigError(f"fluidsynth failed ({result.returncode}): {result.stderr.strip()[-400:]}")
    audio, rate = soundfile.read(str(wav_path), dtype="float32", always_2d=True)
    if rate != sample_rate_hz:
        raise ConfigError(f"fluidsynth wrote {rate} Hz, expected {sample_rate_hz} Hz")
    return audio.mean(axis=1)


def rendered_start_s(start_s: float, tempo_bpm: float, sample_rate_hz: int) -> float:
    """When a note written at ``start_s`` starts sounding in fluidsynth's output.

    The MIDI file rounds it to a tick; fluidsynth's file renderer then starts the note at the beginning of the
    next block of FLUIDSYNTH_BLOCK samples, plus one sample (measured: a hit at exactly 1.000 s starts at
    sample 16065 at 16 kHz).
    """
    seconds_per_tick = 60.0 / tempo_bpm / TICKS_PER_BEAT
    sample = round(start_s / seconds_per_tick) * seconds_per_tick * sample_rate_hz
    return ((np.floor(sample / FLUIDSYNTH_BLOCK) + 1) * FLUIDSYNTH_BLOCK + 1) / sample_rate_hz


def drum_onsets(song: Song, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """(n_onsets,) sorted unique times in seconds at which drum hits start sounding in the rendered audio
    (hits closer than 1 ms count as one)."""
    written = [note.start_s for part in song.parts if part.is_drums for note in part.notes]
    times = np.sort(np.array([rendered_start_s(t, song.tempo_bpm, sample_rate_hz) for t in written]))
    if times.size == 0:
        return times
    return times[np.concatenate([[True], np.diff(times) > 1e-3])]


def render_song(song: Song, sample_rate_hz: int = SAMPLE_RATE_HZ, soundfont: Path = DEFAULT_SOUNDFONT) -> Multitrack:
    """Render each part on its own, trim/pad to the song length and scale all by one gain (peak PEAK_LEVEL)."""
    n_samples = int(round(song.duration_s * sample_rate_hz))
    stems: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="sense-multitrack-") as directory:
        for part in song.parts:
            stem = np.zeros(n_samples, dtype=np.float32)
            if part.notes:
                midi_path = Path(directory) / f"{part.stem}.mid"
                write_midi(part, song.tempo_bpm, midi_path)
                rendered = render_midi(midi_path, sample_rate_hz, soundfont)[:n_samples]
                stem[: len(rendered)] = rendered
            stems[part.stem] = stem
    for name in STEMS:
        stems.setdefault(name, np.zeros(n_samples, dtype=np.float32))
    mixture = np.sum([stems[name] for name in STEMS], axis=0)
    gain = PEAK_LEVEL / max(float(np.abs(mixture).max()), 1e-9)
    stems = {name: (stem * gain).astype(np.float32) for name, stem in stems.items()}
    mixture = np.sum([stems[name] for name in STEMS], axis=0).astype(np.float32)
    return Multitrack(song, mixture, stems, sample_rate_hz, drum_onsets(song, sample_rate_hz))


def render_multitrack(
    seed: int, n_sections: int = 5, sample_rate_hz: int = SAMPLE_RATE_HZ, soundfont: Path = DEFAULT_SOUNDFONT
) -> Multitrack:
    """Generate and render one song: ``render_song(generate_song(seed, n_sections))``."""
    return render_song(generate_song(seed, n_sections), sample_rate_hz, soundfont)
