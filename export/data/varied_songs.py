"""Varied multitrack songs: random scores, each stem rendered from its own *source*, with exact stems and the
exact onset time of every drum hit per onset class (kick, snare, hat).

A score is random in tempo (70-175 bpm), key, groove (kick/snare/hat patterns drawn per song, fills, toms),
bass rhythm, chord voicing and melody, and its sections switch stems on and off (solo parts, so crosstalk can be
measured). Every stem is rendered from a source drawn from a pool (:func:`draw_sources`):

    tonal stems (vocals, bass, other)  a synthesiser family (export.data.synth_instruments) or a GM soundfont
    vocals also                         espeak-ng voices singing-by-speaking, recorded speech (training only)
    drums                               a Hydrogen kit, Sonic Pi one-shots, a drum-synth family or a GM soundfont

``pool="train"`` draws only sources training may use; ``pool="heldout"`` draws only held-out ones
(:mod:`export.data.source_holdout`), so out-of-source evaluation songs share no source with training.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from edge.errors import ConfigError
from export.data.multitrack import STEMS, Multitrack, Note, Part, Song, render_midi, rendered_start_s, write_midi
from export.data.source_holdout import (
    ESPEAK_LANGUAGES,
    ESPEAK_VARIANTS,
    SOUNDFONTS,
    check_training_source,
    is_heldout_source,
    soundfont_path,
)
from export.data.sources import SAMPLE_RATE_HZ, LoadReport, debian_data_dir, load_audio_files
from export.data.synth_instruments import (
    DRUM_CLASSES,
    DRUM_FAMILIES,
    TONAL_FAMILIES,
    draw_params,
    render_note,
    synth_drum,
)

PEAK = 0.9
MAX_SAMPLE_SECONDS = 2.0
# General MIDI drum notes used by the scores, and the onset class of each.
GM_DRUMS = {"kick": 36, "snare": 38, "clap": 39, "tom": 45, "closed_hat": 42, "open_hat": 46, "crash": 49, "ride": 51}
DRUM_CLASS_OF = {
    "kick": "kick",
    "snare": "snare",
    "clap": "snare",
    "tom": "snare",
    "closed_hat": "hat",
    "open_hat": "hat",
    "crash": "hat",
    "ride": "hat",
}
DRUM_OF_PITCH = {pitch: drum for drum, pitch in GM_DRUMS.items()}
# GM programs (0-based) per stem for soundfont rendering.
GM_PROGRAMS = {
    "vocals": (52, 53, 54, 85, 65, 73, 56, 71, 40, 68),  # choir, voice, synth voice, lead voice; alto sax, flute...
    "bass": (32, 33, 34, 35, 36, 37, 38, 39, 43, 87),  # acoustic/electric/fretless/slap/synth basses, bass+lead
    "other": (0, 1, 2, 4, 5, 6, 11, 16, 19, 24, 25, 26, 27, 29, 30, 46, 48, 49, 50, 61, 81, 88, 89, 90, 95),
}
KIT_ROLE_KEYWORDS = (  # first match wins, in this order (file names, lower case)
    ("open_hat", ("ohh", "open", "ho_", "hat_op", "hat 1 op")),
    ("crash", ("crash", "ride", "cc_", "rc_", "cymbal", "china", "splash", "cra_")),
    ("closed_hat", ("chh", "hat", "hh", "shake", "shaker")),
    ("kick", ("kick", "bd", "bassdrum", "_k_", "kik", "bass", "dununba")),
    ("clap", ("clap",)),
    ("snare", ("snare", "sn", "sd_", "rim", "rs_", "slap")),
    ("tom", ("tom", "ft_", "t1_", "t2_", "tone", "conga", "bongo")),
)
VOCAL_FORMANT_PROBABILITY = 0.6
"""A synthesised lead ('vocals') is a sung vowel this often, else another synth family's lead line."""
ROLE_OF_DRUM = {
    "kick": "kick",
    "snare": "snare",
    "clap": "clap",
    "tom": "tom",
    "closed_hat": "closed_hat",
    "open_hat": "open_hat",
    "crash": "crash",
    "ride": "crash",
}
SCALES = (
    (0, 2, 4, 5, 7, 9, 11),
    (0, 2, 3, 5, 7, 8, 10),
    (0, 2, 3, 5, 7, 9, 10),
    (0, 2, 4, 7, 9, 12, 14),
    (0, 3, 5, 7, 10, 12, 15),
)  # major, minor, dorian, pentatonic major/minor


@dataclass(frozen=True)
class StemSources:
    """The source of each stem of one song (``"<kind>:<name>"``, see export.data.source_holdout)."""

    vocals: str
    drums: str
    bass: str
    other: str

    def of(self, stem: str) -> str:
        return str(getattr(self, stem))

    def all(self) -> tuple[str, ...]:
        return tuple(self.of(stem) for stem in STEMS)


@dataclass
class VariedSong:
    """A rendered song: ``stems`` (n_stems, n_samples) float32 in STEMS order (their sum is the mixture),
    ``onsets_s`` per drum onset class (kick, snare, hat) sorted times at which hits start sounding."""

    stems: np.ndarray
    onsets_s: dict[str, np.ndarray]
    sources: StemSources
    song: Song
    """The score (tempo, sections with the stems playing in each)."""

    def as_multitrack(self) -> Multitrack:
        """The song as a :class:`export.data.multitrack.Multitrack` (what the fidelity benchmark reads)."""
        stems = {name: self.stems[index] for index, name in enumerate(STEMS)}
        return Multitrack(self.song, self.stems.sum(axis=0), stems, SAMPLE_RATE_HZ, self.felt_onsets_s())

    def felt_onsets_s(self) -> np.ndarray:
        """Every drum hit of every class, hits closer than SAME_HIT_S merged into the first (a kick and a hat
        played together, a few ms apart by the score's timing jitter, are one event to the skin and to a pulse)."""
        return merge_close_onsets(np.concatenate(list(self.onsets_s.values()) or [np.zeros(0)]), SAME_HIT_S)


SAME_HIT_S = 0.025
"""Drum hits of different classes closer than this count as one felt event (evaluation references)."""


def merge_close_onsets(times_s: np.ndarray, min_gap_s: float) -> np.ndarray:
    """Sorted ``times_s`` with every time closer than ``min_gap_s`` to the last kept one dropped."""
    kept: list[float] = []
    for time_s in np.sort(np.asarray(times_s, dtype=np.float64)):
        if not kept or time_s - kept[-1] >= min_gap_s:
            kept.append(float(time_s))
    return np.array(kept)


# ------------------------------------------------------------------------------------------------ scores


def random_score(rng: np.random.Generator, n_bars: int) -> tuple[Song, dict[str, list[Note]]]:
    """A random song of ``n_bars`` bars: parts per stem (GM-style drum pitches), sections of 2 bars."""
    tempo_bpm = float(rng.uniform(70, 175))
    beat_s = 60.0 / tempo_bpm
    step_s = beat_s / 4
    bar_s = 4 * beat_s
    key_root = int(rng.integers(0, 12))
    scale = SCALES[int(rng.integers(len(SCALES)))]
    swing = float(rng.choice([0.0, 0.0, rng.uniform(0.05, 0.3)]))

    def at(bar: int, step: float) -> float:
        swung = step + (swing if int(step) % 2 == 1 else 0.0)
        return max(0.0, bar * bar_s + swung * step_s + float(rng.normal(0, 0.004)))

    def pitch_of(degree: int, octave: int) -> int:
        return 12 * (octave + 1) + key_root + scale[degree % len(scale)] + 12 * (degree // len(scale))

    groove = {  # per drum: probability of a hit on each 16th step
        "kick": np.where(np.isin(np.arange(16), [0, 8]), 0.95, rng.uniform(0, 0.35, 16) * (rng.random(16) < 0.4)),
        "snare": np.where(np.isin(np.arange(16), [4, 12]), 0.95, rng.uniform(0, 0.2, 16) * (rng.random(16) < 0.3)),
        "closed_hat": np.where(np.arange(16) % int(rng.choice([1, 2, 2, 4])) == 0, rng.uniform(0.6, 1.0), 0.0),
        "open_hat": np.where(np.arange(16) % 4 == 2, rng.uniform(0, 0.5), 0.0),
        "clap": np.where(np.isin(np.arange(16), [4, 12]), rng.choice([0.0, 0.9]), 0.0),
        "ride": np.where(np.arange(16) % 2 == 0, rng.choice([0.0, 0.0, 0.8]), 0.0),
    }
    if rng.random() < 0.25:  # four on the floor
        groove["kick"] = np.where(np.arange(16) % 4 == 0, 0.97, 0.0)
    progression = [int(d) for d in rng.integers(0, 7, 4)]
    bass_steps = sorted(set([0] + [int(s) for s in rng.choice(16, int(rng.integers(1, 7)), replace=False)]))
    bass_octave = int(rng.choice([1, 2]))
    chord_style = int(rng.integers(3))  # block chords, arpeggio, rhythmic stabs
    notes: dict[str, list[Note]] = {stem: [] for stem in STEMS}
    sections: list[tuple[float, float, tuple[str, ...]]] = []
    melody = int(rng.integers(0, 7))
    for section in range(n_bars // 2):
        if section == 0 or rng.random() < 0.35:  # a partial section: 1-3 stems
            playing = tuple(sorted(rng.choice(STEMS, int(rng.integers(1, 4)), replace=False), key=STEMS.index))
        else:
            playing = tuple(stem for stem in STEMS if rng.random() < 0.9) or STEMS
        sections.append((section * 2 * bar_s, (section + 1) * 2 * bar_s, playing))
        for bar in (2 * section, 2 * section + 1):
            chord = progression[bar % 4]
            if "drums" in playing:
                fill = bar % 4 == 3 and rng.random() < 0.4
                for drum, probabilities in groove.items():
                    for step in range(16):
                        if fill and step >= 12:
                            continue
                        if rng.random() < probabilities[step]:
                            velocity = int(rng.integers(60, 127))
                            notes["drums"].append(Note(at(bar, step), step_s, GM_DRUMS[drum], velocity))
                if fill:
                    for step in range(12, 16):
                        drum = str(rng.choice(["tom", "snare", "tom", "kick"]))
                        notes["drums"].append(Note(at(bar, step), step_s, GM_DRUMS[drum], int(rng.integers(80, 127))))
                if bar % 8 == 0 and rng.random() < 0.6:
                    notes["drums"].append(Note(at(bar, 0), step_s, GM_DRUMS["crash"], 110))
            if "bass" in playing:
                for index, step in enumerate(bass_steps):
                    length = (bass_steps[index + 1] if index + 1 < len(bass_steps) else 16) - step
                    degree = chord + (int(rng.choice([0, 0, 0, 4, 7])) if index else 0)
                    notes["bass"].append(
                        Note(
                            at(bar, step),
                            length * step_s * float(rng.uniform(0.5, 0.95)),
                            pitch_of(degree, bass_octave),
                            int(rng.integers(80, 125)),
                        )
                    )
            if "other" in playing:
                tones = [pitch_of(chord + offset, 4) for offset in (0, 2, 4, 6)[: int(rng.integers(3, 5))]]
                if chord_style == 0:
                    notes["other"] += [Note(at(bar, 0), bar_s * 0.95, p, int(rng.integers(55, 95))) for p in tones]
                elif chord_style == 1:
                    notes["other"] += [
                        Note(at(bar, 2 * i), 2 * step_s, tones[i % len(tones)], int(rng.integers(60, 100)))
                        for i in range(8)
                    ]
                else:
                    for step in sorted(rng.choice(16, int(rng.integers(2, 6)), replace=False)):
                        notes["other"] += [
                            Note(at(bar, int(step)), 1.5 * step_s, p, int(rng.integers(60, 110))) for p in tones
                        ]
            if "vocals" in playing:
                step = int(rng.integers(0, 3))
                while step < 16:
                    length = int(rng.choice([1, 2, 2, 3, 4, 4, 6, 8]))
                    if rng.random() < 0.8:
                        melody = int(np.clip(melody + rng.integers(-3, 4), -4, 10))
                        notes["vocals"].append(
                            Note(at(bar, step), length * step_s * 0.9, pitch_of(melody, 4), int(rng.integers(80, 120)))
                        )
                    step += length
    parts = tuple(Part(stem, 0, tuple(notes[stem])) for stem in STEMS)
    song = Song(int(rng.integers(2**31)), tempo_bpm, key_root, False, parts, tuple(sections), n_bars * bar_s)
    return song, notes


# ------------------------------------------------------------------------------------------------ sources


def training_kits() -> list[str]:
    return [name for name in hydrogen_kit_names() if not is_heldout_source(f"kit:{name}")]


def hydrogen_kit_names() -> list[str]:
    return sorted(path.name for path in debian_data_dir("hydrogen-drumkits").iterdir() if path.is_dir())


def source_pool(pool: str, stem: str) -> list[str]:
    """Every source ``stem`` may be rendered from in ``pool`` ('train' or 'heldout')."""
    if pool not in ("train", "heldout"):
        raise ConfigError(f"source pool {pool!r} unknown; expected 'train' or 'heldout'")
    if stem == "drums":
        candidates = (
            [f"kit:{name}" for name in hydrogen_kit_names()]
            + ["kit:sonic-pi"]
            + [f"drumsynth:{family}" for family in DRUM_FAMILIES]
            + [f"soundfont:{name}" for name in SOUNDFONTS]
        )
    else:
        families = [family for family in TONAL_FAMILIES if stem == "vocals" or family != "formant"]
        candidates = [f"synth:{family}" for family in families] + [f"soundfont:{name}" for name in SOUNDFONTS]
        if stem == "vocals":
            candidates += [f"voice:espeak:{lang}+{variant}" for lang in ESPEAK_LANGUAGES for variant in ESPEAK_VARIANTS]
    return [source for source in candidates if is_heldout_source(source) == (pool == "heldout")]


def draw_sources(rng: np.random.Generator, pool: str) -> StemSources:
    """One source per stem, drawn from ``pool``; the kinds of source are balanced (synth / soundfont / kit ...)."""
    chosen = {}
    for stem in STEMS:
        options = source_pool(pool, stem)
        kinds = sorted({option.split(":")[0] for option in options})
        if stem == "vocals" and pool == "heldout":  # a held-out lead is a voice or a soundfont's voice/lead patch
            kinds = [kind for kind in kinds if kind != "synth"]
        kind = kinds[int(rng.integers(len(kinds)))]
        of_kind = [option for option in options if option.split(":")[0] == kind]
        if stem == "vocals" and kind == "synth" and rng.random() < VOCAL_FORMANT_PROBABILITY:
            of_kind = ["synth:formant"]
        chosen[stem] = of_kind[int(rng.integers(len(of_kind)))]
    return StemSources(**chosen)


@lru_cache(maxsize=32)
def kit_samples(kit: str) -> dict[str, tuple[np.ndarray, ...]]:
    """One-shots of a drum kit ('sonic-pi' or a Hydrogen kit name) by role, 16 kHz mono, peak 1."""
    if kit == "sonic-pi":
        from export.data.drum_samples import SONIC_PI_PATTERNS

        directory = debian_data_dir("sonic-pi-samples")
        paths = {
            role: [p for pattern in patterns for p in sorted(directory.glob(pattern))]
            for role, patterns in SONIC_PI_PATTERNS.items()
        }
        paths["clap"], paths["tom"] = [], []
    else:
        directory = debian_data_dir("hydrogen-drumkits") / kit
        if not directory.is_dir():
            raise ConfigError(f"drum kit {kit!r} not found in {directory.parent}")
        paths = {role: [] for role, _ in KIT_ROLE_KEYWORDS}
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() not in (".wav", ".flac", ".aiff", ".aif"):
                continue
            name = path.name.lower()
            role = next((role for role, words in KIT_ROLE_KEYWORDS if any(word in name for word in words)), None)
            if role is not None:
                paths[role].append(path)
    report = LoadReport()
    samples = {}
    for role, role_paths in paths.items():
        loaded = load_audio_files(role_paths[:12], report, max_seconds=MAX_SAMPLE_SECONDS)
        samples[role] = tuple(
            audio / max(float(np.abs(audio).max()), 1e-6) for _, audio in loaded if np.abs(audio).max() > 1e-4
        )
    return samples


# ------------------------------------------------------------------------------------------------ rendering


def _place(stem: np.ndarray, sound: np.ndarray, start: int) -> None:
    if start >= len(stem):
        return
    start = max(start, 0)
    end = min(len(stem), start + len(sound))
    stem[start:end] += sound[: end - start]


def _render_soundfont(
    notes: list[Note], stem: str, tempo_bpm: float, soundfont: str, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    program = 0 if stem == "drums" else int(rng.choice(GM_PROGRAMS[stem]))
    part = Part(stem, program, tuple(notes))
    out = np.zeros(n_samples, np.float32)
    with tempfile.TemporaryDirectory(prefix="sense-varied-") as directory:
        midi_path = Path(directory) / f"{stem}.mid"
        write_midi(part, tempo_bpm, midi_path)
        rendered = render_midi(midi_path, SAMPLE_RATE_HZ, soundfont_path(soundfont))[:n_samples]
    out[: len(rendered)] = rendered
    return out


def _espeak_vocals(notes: list[Note], voice: str, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Spoken/sung syllables at the melody's note times: espeak-ng words pitched to each phrase's first note."""
    from export.data.sources import espeak_speech

    words = (
        "la",
        "na",
        "oh",
        "yeah",
        "love",
        "night",
        "sky",
        "home",
        "fire",
        "dream",
        "away",
        "again",
        "baby",
        "time",
        "light",
        "heart",
        "go",
        "one",
        "more",
        "day",
    )
    out = np.zeros(n_samples, np.float32)
    for note in notes[::2]:
        pitch_arg = int(np.clip((note.pitch - 48) * 3, 0, 99))
        text = " ".join(rng.choice(words, int(rng.integers(1, 4))))
        audio = espeak_speech(text, voice=voice, words_per_minute=int(rng.integers(110, 190)), pitch=pitch_arg)
        _place(out, audio * (note.velocity / 127), int(note.start_s * SAMPLE_RATE_HZ))
    return out


def render_stem(
    stem: str, notes: list[Note], source: str, tempo_bpm: float, n_samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """One stem of a score from ``source``: (n_samples,) float32 and, for drums, onset times per class."""
    kind, _, name = source.partition(":")
    onsets: dict[str, list[float]] = {drum_class: [] for drum_class in DRUM_CLASSES}
    if not notes:
        return np.zeros(n_samples, np.float32), onsets
    if kind == "soundfont":
        audio = _render_soundfont(notes, stem, tempo_bpm, name, n_samples, rng)
        if stem == "drums":
            for note in notes:
                onsets[DRUM_CLASS_OF[DRUM_OF_PITCH[note.pitch]]].append(
                    rendered_start_s(note.start_s, tempo_bpm, SAMPLE_RATE_HZ)
                )
        return audio, onsets
    out = np.zeros(n_samples, np.float32)
    if stem == "drums":
        if kind == "kit":
            samples = kit_samples(name)
            voices = {
                drum: samples[ROLE_OF_DRUM[drum]][int(rng.integers(len(samples[ROLE_OF_DRUM[drum]])))]
                for drum in GM_DRUMS
                if samples.get(ROLE_OF_DRUM[drum])
            }
        elif kind == "drumsynth":
            voices = {drum: synth_drum(name, drum, rng) for drum in GM_DRUMS}
        else:
            raise ConfigError(f"drum source {source!r} unknown")
        for note in notes:
            drum = DRUM_OF_PITCH[note.pitch]
            if drum not in voices:
                continue
            start = int(round(note.start_s * SAMPLE_RATE_HZ))
            _place(out, voices[drum] * (note.velocity / 127), start)
            onsets[DRUM_CLASS_OF[drum]].append(max(start, 0) / SAMPLE_RATE_HZ)
        return out, onsets
    if kind == "synth":
        register = {"bass": "bass", "vocals": "lead", "other": "chords"}[stem]
        params = draw_params(name, rng, register)
        for note in notes:
            _place(
                out,
                render_note(name, params, note.pitch, note.duration_s, note.velocity / 127, rng),
                int(round(note.start_s * SAMPLE_RATE_HZ)),
            )
        return out, onsets
    if kind == "voice" and name.startswith("espeak:"):
        return _espeak_vocals(notes, name.removeprefix("espeak:"), n_samples, rng), onsets
    raise ConfigError(f"source {source!r} cannot render stem {stem!r}")


def render_varied_song(rng: np.random.Generator, n_bars: int, pool: str) -> VariedSong:
    """A random score rendered stem by stem from sources of ``pool``; scaled so the mixture peaks at PEAK.

    With ``pool="train"`` every source passes :func:`check_training_source`."""
    song, notes = random_score(rng, n_bars)
    sources = draw_sources(rng, pool)
    if pool == "train":
        for source in sources.all():
            check_training_source(source)
    n_samples = int(round(song.duration_s * SAMPLE_RATE_HZ))
    stems = np.zeros((len(STEMS), n_samples), np.float32)
    onsets: dict[str, list[float]] = {drum_class: [] for drum_class in DRUM_CLASSES}
    for index, stem in enumerate(STEMS):
        audio, stem_onsets = render_stem(stem, notes[stem], sources.of(stem), song.tempo_bpm, n_samples, rng)
        level_db = float(rng.uniform(-9, 3)) if stem != "drums" else float(rng.uniform(-6, 3))
        peak = max(float(np.abs(audio).max()), 1e-9)
        stems[index] = audio * (10 ** (level_db / 20) / peak) if peak > 1e-6 else 0.0
        if stem == "drums":
            onsets = stem_onsets
    mixture_peak = max(float(np.abs(stems.sum(axis=0)).max()), 1e-9)
    stems *= PEAK / mixture_peak
    return VariedSong(
        stems.astype(np.float32), {k: np.unique(np.round(np.array(v), 4)) for k, v in onsets.items()}, sources, song
    )
