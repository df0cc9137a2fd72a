"""Distillation of the causal students from teachers and ground truth (the 'cache-teachers' and 'distill' stages).

Separator: ground-truth stems of rendered music (compressed-magnitude L1 of mask x mixture vs each stem) plus,
on real mixtures, the Spleeter teacher (vocals vs its vocals, drums+bass+other vs its accompaniment).
Tagger: binary cross-entropy of the student's logits against YAMNet's sigmoid outputs mapped to the student's
labels (soft targets), on windows aligned with the teacher's patches. With ``tagger_ema_decay`` the tagger is
validated, checkpointed and shipped as an exponential moving average of its weights.

The two students are independent: each has its own seed, optimiser, step count (``[training] steps`` and
``tagger_steps``), learning-rate schedule (constant, then an optional cosine decay over the last
``decay_fraction`` of its steps) and checkpoints ``<out>/checkpoints/{last,best}-<student>.pt``, so they train one
after the other in one process or side by side in two (``sense export distill --student tagger``). Single-threaded
on CPU by default; fixed seeds; a checkpoint (model, optimiser, step, RNG states) is written every
``checkpoint_every_seconds`` and at the end, and a killed run resumes from it exactly. Validation numbers every
``validate_every_steps`` (tagger: ``tagger_validate_every_steps``) steps go to the progress log and
``<out>/checkpoints/history-<student>.json``. With ``torchrun`` (WORLD_SIZE > 1) it runs DDP: each rank draws
its own batches, rank 0 validates and checkpoints (this code path has been run with gloo on CPU only, never on
GPUs).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from edge.errors import ConfigError
from edge.stft import magnitude_frames as edge_magnitude_frames
from edge.stream import DEVICE_STREAM
from export.data.sources import SAMPLE_RATE_HZ
from export.data.teacher_cache import TeacherCache
from export.recipe import Recipe
from export.separator_validation import GENERATOR_VALIDATION, VALIDATION_SETS, songs_sdr_db, validation_songs
from export.students.band_split import (
    STEM_PRIOR_BANDS_HZ,
    BandSplitConfig,
    BandSplitSeparator,
    HeldMasks,
    NarrowBandBlock,
    OnsetStep,
)
from export.students.labels import label_index_map, map_teacher_probabilities
from export.students.tagger import MobileTagger, TaggerConfig
from export.teachers.base import tag

if TYPE_CHECKING:
    from export.teachers.yamnet import YamnetTeacher

N_FFT = DEVICE_STREAM.n_fft
HOP = DEVICE_STREAM.hop
WINDOW = DEVICE_STREAM.window
N_BINS = N_FFT // 2 + 1
ACCOMPANIMENT_STEMS = ("drums", "bass", "other")
Progress = Callable[[str], None]


# ----------------------------------------------------------------------------------------------- students


def make_separator(recipe: Recipe) -> BandSplitSeparator:
    section = recipe.separator
    return BandSplitSeparator(
        BandSplitConfig(
            n_bins=N_BINS,
            n_stems=len(section.stems),
            n_channels=section.n_channels,
            kernel_frames=section.kernel_frames,
            dilations=tuple(section.dilations),
            n_onset_classes=len(section.onset_classes),
            log_floor=section.log_floor,
            stem_prior=stem_prior(section.stems, section.prior_weights),
            percussive_stem=section.stems.index("drums") if "drums" in section.stems else 0,
            sample_rate_hz=SAMPLE_RATE_HZ,
        )
    )


def stem_prior(stems: tuple[str, ...], weights: tuple[float, ...]) -> tuple[tuple[float, float, float], ...]:
    """The separator's :attr:`BandSplitConfig.stem_prior` from the recipe's per-stem weights (checked there; none:
    no prior)."""
    if not weights:
        return ()
    return tuple(
        (weight, *STEM_PRIOR_BANDS_HZ.get(stem, (0.0, 0.0))) for stem, weight in zip(stems, weights, strict=True)
    )


def warm_start_separator(model: BandSplitSeparator, artifact: Path, onsets_artifact: Path | None = None) -> list[str]:
    """Load ``model`` with the weights of a pack's fp32 ONNX separator of the same architecture (and its onset branch
    from the pack's fp32 ONNX onset graph, ``onsets_artifact``, when the pack has one: from sense-default 1.6.0 the
    onset branch is a graph of its own); returns the parameters the artifacts do not have (left fresh). A model whose
    input features or stem prior differ from the artifact's takes the weights of the artifact read as the packs up to
    1.2.0 were made (log1p features, no stem prior): a start for training the new function, not the same function."""
    from export.students.onnx_weights import load_weights_from_onnx

    fresh = _warm_start_masks(model, artifact)
    if onsets_artifact is None or model.onset_branch is None:
        return fresh
    onsets = OnsetStep(model.onset_branch).eval()
    example = (torch.rand(1, 16, N_BINS) * 4, *(torch.zeros(s) for s in onsets.state_shapes(1)))
    onsets_fresh = set(load_weights_from_onnx(onsets, onsets_artifact, example))
    return [key for key in fresh if not key.startswith("onset_branch.") or key in onsets_fresh]


def _warm_start_masks(model: BandSplitSeparator, artifact: Path) -> list[str]:
    """:func:`warm_start_separator` for the separator's own graph."""
    from export.students.onnx_weights import load_weights_from_onnx

    def load(student: BandSplitSeparator) -> list[str]:
        example = (torch.rand(1, 16, N_BINS) * 4, *student.initial_states(1))
        return load_weights_from_onnx(student.eval(), artifact, example)  # type: ignore[arg-type]

    as_before = replace(model.config, log_floor=1.0, stem_prior=())
    try:
        return load(model)
    except ConfigError:
        if model.config == as_before:
            raise
        donor = BandSplitSeparator(as_before)
        fresh = load(donor)
        model.load_state_dict(donor.state_dict())
        return fresh


def checkpoint_separator(path: Path, key: str) -> dict[str, torch.Tensor]:
    """The separator weights of the torch checkpoint ``path`` (named by ``[training] key`` in errors), conv weights
    of the older layout turned to the current one."""
    if not path.is_file():
        raise ConfigError(f"[training] {key}: {path} not found")
    stored = torch.load(str(path), map_location="cpu", weights_only=False)
    if not isinstance(stored, dict) or "separator" not in stored:
        raise ConfigError(f"[training] {key}: {path} holds no 'separator' weights")
    return {
        name: NarrowBandBlock.conv_weight_in_current_layout(value) if name.endswith(".conv.weight") else value
        for name, value in stored["separator"].items()
    }


def warm_start_from_checkpoint(model: BandSplitSeparator, path: Path) -> tuple[list[str], list[str]]:
    """Load into ``model`` every parameter of the torch checkpoint ``path``'s separator whose name and shape match
    (e.g. the first blocks of a deeper separator); returns (parameters left fresh, checkpoint entries not used)."""
    own = model.state_dict()
    donor = checkpoint_separator(path, "init_from_checkpoint")
    taken = {key: value for key, value in donor.items() if key in own and own[key].shape == value.shape}
    if not taken:
        raise ConfigError(f"[training] init_from_checkpoint: no parameter of {path} fits this separator")
    model.load_state_dict({**own, **taken})
    return sorted(set(own) - set(taken)), sorted(set(donor) - set(taken))


def load_teacher_separator(recipe: Recipe) -> BandSplitSeparator:
    """The separator of ``[training] teacher_checkpoint``, built as ``teacher_recipe``'s [separator] section says,
    masks only and frozen (self-distillation)."""
    from export.recipe import load_recipe

    checkpoint, teacher_recipe = Path(recipe.training.teacher_checkpoint), Path(recipe.training.teacher_recipe)
    weights = checkpoint_separator(checkpoint, "teacher_checkpoint")
    if not teacher_recipe.is_file():
        raise ConfigError(f"[training] teacher_recipe: {teacher_recipe} not found")
    teacher = make_separator(load_recipe(teacher_recipe)).masks_only()
    try:
        missing, _ = teacher.load_state_dict(weights, strict=False)
    except RuntimeError as error:  # a parameter of another shape
        raise ConfigError(
            f"[training] teacher_checkpoint: {checkpoint} does not fit {teacher_recipe}'s separator: "
            + " ".join(str(error).split())
        ) from None
    if missing:
        raise ConfigError(
            f"[training] teacher_checkpoint: {checkpoint} does not fit {teacher_recipe}'s separator: missing "
            f"{_modules(sorted(missing))}"
        )
    return teacher.eval().requires_grad_(False)


def _modules(keys: list[str]) -> str:
    """State-dict keys named by their modules, e.g. 'temporal.4, temporal.5' for every key of those blocks."""
    return ", ".join(dict.fromkeys(key.rsplit(".", 2)[0] if key.count(".") >= 2 else key for key in keys)) or "nothing"


def make_tagger(recipe: Recipe) -> MobileTagger:
    section = recipe.tagger
    return MobileTagger(
        TaggerConfig(
            n_bins=N_BINS,
            n_labels=len(section.labels),
            context_frames=section.context_frames,
            time_pool=section.time_pool,
            n_mels=section.n_mels,
            alert_columns=tuple(section.labels.index(label) for label in section.alert_head),
        )
    )


# ----------------------------------------------------------------------------------------------- features


def magnitude_frames(samples: np.ndarray) -> np.ndarray:
    """(n_samples,) -> (n_frames, n_bins) float32 with the device's causal STFT (zeros before the start)."""
    return edge_magnitude_frames(samples, DEVICE_STREAM)


def causal_stft(segments: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """(..., n_samples) with n_samples = N_FFT + (T - 1) * HOP -> (..., T, n_bins) complex; frame t covers samples
    [t * HOP, t * HOP + N_FFT) — the device's framing when the segment starts N_FFT - HOP samples early."""
    frames = segments.unfold(-1, N_FFT, HOP)
    return torch.fft.rfft(frames * window, dim=-1)


def tagger_frame_for_teacher(teacher_index: int, teacher_hop: int, teacher_window: int) -> int:
    """The device frame whose last sample is nearest the end of teacher frame ``teacher_index``."""
    end = teacher_index * teacher_hop + teacher_window
    return max(0, int(round(end / HOP)) - 1)


# ----------------------------------------------------------------------------------------------- data


@dataclass
class SeparatorSong:
    stems: np.ndarray
    """(n_stems, n_samples) ground-truth stems."""
    onset_samples: tuple[np.ndarray, ...] | None = None
    """Per drum onset class (kick, snare, hat): sample indices at which drum hits start; None when unknown."""
    generator: bool = False
    """A song of the multitrack generator (FluidR3_GM, ``train-NNN``), not a varied song (``train-varied-NNN``)."""


@dataclass
class SeparatorData:
    songs: list[SeparatorSong]
    real: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    """(mixture, teacher vocals, teacher accompaniment) per real mixture."""


@dataclass
class TaggerClip:
    magnitude: np.ndarray
    """(n_frames, n_bins) device STFT magnitude of the clip."""
    targets: np.ndarray
    """(n_teacher_frames, n_labels) teacher probabilities mapped to the student's labels."""
    frames: np.ndarray
    """(n_teacher_frames,) device frame index aligned with each teacher frame (only those with full context)."""


def _load(paths: list[Path], key: str) -> list[np.ndarray]:
    out = []
    for path in paths:
        with np.load(path) as stored:
            out.append(stored[key])
    return out


def yamnet_probabilities(cache: TeacherCache, teacher: YamnetTeacher, audio: np.ndarray) -> np.ndarray:
    """(n_patches, 521) YAMNet probabilities of ``audio`` at the teacher's hop, from ``cache`` or computed into it."""
    return cache.get_or_compute(
        audio, teacher.teacher_id, lambda a: {"probabilities": tag(teacher, a)}, settings=f"hop={teacher.hop_samples}"
    )["probabilities"]


@dataclass(frozen=True)
class TeacherCacheReport:
    n_computed: int
    n_cached: int
    label_positives: dict[str, int]
    """Per tagger label: training and validation windows the teacher gives it (> 0.5) -- what the data covers."""


def cache_teachers(recipe: Recipe, progress: Progress = lambda message: None) -> TeacherCacheReport:
    """Run Spleeter on the real mixtures and YAMNet on the tagger clips, storing results in the teacher cache."""
    from export.teachers.spleeter import SpleeterTeacher
    from export.teachers.yamnet import YamnetTeacher

    cache = TeacherCache(recipe.cache_dir)
    data = recipe.out / "data"
    real = sorted((data / "real").glob("*.npz"))
    if real:
        spleeter = SpleeterTeacher()
        for index, mixture in enumerate(_load(real, "mixture")):
            progress(f"Spleeter on real mixture {index + 1}/{len(real)}")
            cache.get_or_compute(mixture, spleeter.teacher_id, spleeter.separate)
    clips = sorted((data / "tagger").glob("*.npz"))
    labels = tuple(recipe.tagger.labels)
    positives = np.zeros(len(labels), np.int64)
    if clips:
        yamnet = YamnetTeacher()
        index_map = label_index_map(yamnet.class_names, labels)
        for index, audio in enumerate(_load(clips, "audio")):
            progress(f"YAMNet on tagger clip {index + 1}/{len(clips)}")
            positives += (map_teacher_probabilities(yamnet_probabilities(cache, yamnet, audio), index_map) > 0.5).sum(
                axis=0
            )
    return TeacherCacheReport(cache.n_misses, cache.n_hits, dict(zip(labels, positives.tolist())))


def _load_songs(paths: list[Path], onset_classes: tuple[str, ...]) -> list[SeparatorSong]:
    songs = []
    for path in paths:
        with np.load(path) as stored:
            onsets = None
            if onset_classes and all(f"onsets_{name}" in stored for name in onset_classes):
                onsets = tuple(
                    np.round(stored[f"onsets_{name}"] * SAMPLE_RATE_HZ).astype(np.int64) for name in onset_classes
                )
            songs.append(SeparatorSong(stored["stems"], onsets, generator="varied" not in path.name))
    return songs


SEPARATOR_SPLITS = {
    "train": "train-*.npz",
    "val": GENERATOR_VALIDATION,
    "val-oos": "val-oos-*.npz",
    "val-in": "val-in-*.npz",
}
"""Separator data files per split: training; the generator's validation songs; out-of-source and in-source
validation of the varied songs."""


def load_separator_data(recipe: Recipe, split: str) -> SeparatorData:
    from export.teachers.spleeter import SpleeterTeacher

    data = recipe.out / "data"
    songs = _load_songs(
        sorted((data / "separator").glob(SEPARATOR_SPLITS[split])), tuple(recipe.separator.onset_classes)
    )
    real = []
    real_paths = sorted((data / "real").glob("*.npz"))
    if split == "train" and real_paths and recipe.training.spleeter_weight > 0:
        cache = TeacherCache(recipe.cache_dir)
        teacher = SpleeterTeacher()
        for mixture in _load(real_paths, "mixture"):
            stems = cache.get_or_compute(mixture, teacher.teacher_id, teacher.separate)
            real.append((mixture, stems["vocals"], stems["accompaniment"]))
    return SeparatorData(songs, real)


def load_tagger_clips(recipe: Recipe, split: str) -> list[TaggerClip]:
    from export.teachers.yamnet import YamnetTeacher

    cache = TeacherCache(recipe.cache_dir)
    teacher = YamnetTeacher()
    index_map = label_index_map(teacher.class_names, recipe.tagger.labels)
    clips = []
    for audio in _load(sorted((recipe.out / "data" / "tagger").glob(f"{split}-*.npz")), "audio"):
        probabilities = yamnet_probabilities(cache, teacher, audio)
        magnitude = magnitude_frames(audio)
        frames = np.array(
            [
                tagger_frame_for_teacher(i, teacher.hop_samples, teacher.window_samples)
                for i in range(len(probabilities))
            ]
        )
        valid = (frames >= recipe.tagger.context_frames - 1) & (frames < len(magnitude))
        if valid.any():
            clips.append(
                TaggerClip(magnitude, map_teacher_probabilities(probabilities, index_map)[valid], frames[valid])
            )
    return clips


# ----------------------------------------------------------------------------------------------- batches


class SeparatorBatches:
    """Random segments with remix/gain augmentation -> (mixture |X|, stem |S| targets, mask of valid targets)."""

    def __init__(self, data: SeparatorData, recipe: Recipe, rng: np.random.Generator, augment: bool = True) -> None:
        self.data = data
        self.training = recipe.training
        self.rng = rng
        self.n_samples = N_FFT + (self.training.segment_frames - 1) * HOP
        self.window = torch.hann_window(N_FFT, periodic=True)
        self.stems = recipe.separator.stems
        self.n_onset_classes = len(recipe.separator.onset_classes)
        self.augment_probability = self.training.augment_probability if augment else 0.0
        weights = np.array([self.training.generator_song_weight if s.generator else 1.0 for s in data.songs])
        self.song_probabilities = weights / weights.sum() if np.any(weights != 1.0) else None

    def _crop(self, audio: np.ndarray, start: int) -> np.ndarray:
        piece = audio[..., start : start + self.n_samples]
        pad = self.n_samples - piece.shape[-1]
        return np.pad(piece, [(0, 0)] * (piece.ndim - 1) + [(0, pad)]) if pad > 0 else piece

    def _pick_song(self) -> SeparatorSong:
        """A random training song: uniformly, or with the generator's songs weighted by ``generator_song_weight``."""
        songs = self.data.songs
        if self.song_probabilities is None:
            return songs[int(self.rng.integers(len(songs)))]
        return songs[int(self.rng.choice(len(songs), p=self.song_probabilities))]

    def _crop_song(self, song: SeparatorSong) -> tuple[np.ndarray, np.ndarray | None]:
        """A random segment of ``song``: stems (n_stems, n_samples) and its onset targets (T, n_classes) or None."""
        start = int(self.rng.integers(0, max(1, song.stems.shape[1] - self.n_samples)))
        return self._crop(song.stems, start), self._onset_targets(song, start)

    def _onset_targets(self, song: SeparatorSong, start: int) -> np.ndarray | None:
        """(T, n_classes) 1 at the recipe's ``onset_target_frames`` after the frame whose newest hop holds a hit's
        first sample (frame t covers segment samples [t * HOP, t * HOP + N_FFT))."""
        if song.onset_samples is None or not self.n_onset_classes:
            return None
        n_frames = self.training.segment_frames
        targets = np.zeros((n_frames, self.n_onset_classes), np.float32)
        for index, samples in enumerate(song.onset_samples):
            relative = samples - start
            frames = (relative - N_FFT) // HOP + 1
            for offset in self.training.onset_target_frames:
                hit = frames + offset
                targets[hit[(hit >= 0) & (hit < n_frames)], index] = 1.0
        return targets

    def _song_segment(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(stems (n_stems, n), noise (n,), onset targets (T, n_classes) or None) with remix, gain and effects."""
        from export.data.augment import augment_segment, random_gains_db, remix, swap_stems

        songs = self.data.songs
        segment, onsets = self._crop_song(self._pick_song())
        if len(songs) > 1 and self.rng.random() < self.training.swap_probability:
            other, other_onsets = self._crop_song(self._pick_song())
            drums = self.stems.index("drums")
            swapped = swap_stems(segment, other, self.rng)
            if np.array_equal(swapped[drums], other[drums]):
                onsets = other_onsets  # the onset targets follow the drum stem
            segment = swapped
        gains = random_gains_db(self.rng, len(segment), self.training.gain_spread_db)
        segment = remix(segment, gains, self.training.drop_probability, self.rng)
        if onsets is not None and not np.any(segment[self.stems.index("drums")]):
            onsets = np.zeros_like(onsets)
        noise = np.zeros(segment.shape[1], np.float32)
        if self.augment_probability > 0:
            segment, noise = augment_segment(segment, self.rng, self.augment_probability, SAMPLE_RATE_HZ)
        return segment, noise, onsets

    def ground_truth(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, n_bins) mixture magnitude, (B, T, n_stems, n_bins) stem magnitudes, (B, T, n_classes) onset
        targets and (B,) 1 where the onset targets are known."""
        segments = [self._song_segment() for _ in range(batch_size)]
        stems = torch.from_numpy(np.stack([s[0] for s in segments]))  # (B, S, n)
        noise = torch.from_numpy(np.stack([s[1] for s in segments]))  # (B, n)
        spectra = causal_stft(stems, self.window)  # (B, S, T, F)
        mixture = (spectra.sum(dim=1) + causal_stft(noise, self.window)).abs()
        n_frames, n_classes = self.training.segment_frames, self.n_onset_classes
        onsets = torch.from_numpy(
            np.stack([s[2] if s[2] is not None else np.zeros((n_frames, n_classes), np.float32) for s in segments])
        )
        known = torch.tensor([s[2] is not None for s in segments], dtype=torch.float32)
        return mixture, spectra.abs().transpose(1, 2), onsets, known

    def spleeter(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, n_bins) mixture magnitude, (B, T, 2, n_bins) teacher vocals/accompaniment magnitudes."""
        batch = []
        for _ in range(batch_size):
            mixture, vocals, accompaniment = self.data.real[int(self.rng.integers(len(self.data.real)))]
            start = int(self.rng.integers(0, max(1, len(mixture) - self.n_samples)))
            gain = 10 ** (self.rng.uniform(-self.training.gain_spread_db, self.training.gain_spread_db) / 20)
            batch.append(np.stack([self._crop(x, start) for x in (mixture, vocals, accompaniment)]) * gain)
        spectra = causal_stft(torch.from_numpy(np.stack(batch).astype(np.float32)), self.window).abs()
        return spectra[:, 0], spectra[:, 1:].transpose(1, 2)


class TaggerBatches:
    def __init__(self, clips: list[TaggerClip], recipe: Recipe, rng: np.random.Generator) -> None:
        self.clips = clips
        self.context = recipe.tagger.context_frames
        self.gain_spread_db = recipe.training.gain_spread_db
        self.rng = rng
        self.index = [(c, i) for c, clip in enumerate(clips) for i in range(len(clip.frames))]

    def window(self, clip_index: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        clip = self.clips[clip_index]
        end = int(clip.frames[item]) + 1
        return clip.magnitude[end - self.context : end], clip.targets[item]

    def sample(self, batch_size: int, augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        picks = [self.index[int(self.rng.integers(len(self.index)))] for _ in range(batch_size)]
        windows, targets = zip(*(self.window(c, i) for c, i in picks))
        x = np.stack(windows)
        if augment:
            x = x * (10 ** (self.rng.uniform(-self.gain_spread_db, self.gain_spread_db, (batch_size, 1, 1)) / 20))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(np.stack(targets))

    def evenly_spaced(self, max_items: int) -> list[tuple[int, int]]:
        """At most ``max_items`` (clip, item) pairs spread evenly over every clip (deterministic)."""
        if len(self.index) <= max_items:
            return list(self.index)
        return [self.index[int(i)] for i in np.linspace(0, len(self.index) - 1, max_items)]

    def chunks(self, picks: list[tuple[int, int]], chunk: int = 256) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(windows (n, context, n_bins), targets (n, n_labels)) for ``picks``, ``chunk`` at a time."""
        for start in range(0, len(picks), chunk):
            windows, targets = zip(*(self.window(c, i) for c, i in picks[start : start + chunk]))
            yield torch.from_numpy(np.stack(windows)), torch.from_numpy(np.stack(targets))


# ----------------------------------------------------------------------------------------------- losses


def compressed_l1(estimate: torch.Tensor, target: torch.Tensor, power: float) -> torch.Tensor:
    """Mean |estimate^p - target^p| over compressed magnitudes (p ~ 0.3 weighs quiet parts like loudness does)."""
    return (estimate.clamp_min(0) + 1e-8).pow(power).sub((target + 1e-8).pow(power)).abs().mean()


def separator_loss(masks: torch.Tensor, mixture: torch.Tensor, stems: torch.Tensor, power: float) -> torch.Tensor:
    """masks (B, T, S, F) x mixture (B, T, F) vs stem magnitudes (B, T, S, F)."""
    return compressed_l1(masks * mixture[:, :, None], stems, power)


ONSET_POSITIVE_WEIGHT = 4.0
"""Onset frames are rare (a few per second); their errors weigh this much more than a quiet frame's."""


def onset_loss(probabilities: torch.Tensor, targets: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Weighted binary cross-entropy of onset probabilities (B, T, C) vs targets (B, T, C) on segments whose
    onsets are ``known`` (B,); 0 when none is."""
    if not bool(known.any()):
        return probabilities.sum() * 0.0
    p = probabilities.clamp(1e-6, 1 - 1e-6)
    weights = 1.0 + (ONSET_POSITIVE_WEIGHT - 1.0) * targets
    per_item = -(weights * (targets * p.log() + (1 - targets) * (1 - p).log())).mean(dim=(1, 2))
    return (per_item * known).sum() / known.sum()


def spleeter_loss(
    masks: torch.Tensor, mixture: torch.Tensor, teacher: torch.Tensor, stems: tuple[str, ...], power: float
) -> torch.Tensor:
    """Student vocals vs teacher vocals; student drums+bass+other vs teacher accompaniment."""
    vocals = masks[:, :, stems.index("vocals")] * mixture
    accompaniment = sum(masks[:, :, stems.index(name)] for name in ACCOMPANIMENT_STEMS) * mixture
    return compressed_l1(torch.stack([vocals, accompaniment], dim=2), teacher, power)


def tagger_loss(logits: torch.Tensor, teacher_probabilities: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy against the teacher's sigmoid outputs (soft targets)."""
    return nn.functional.binary_cross_entropy_with_logits(logits, teacher_probabilities)


# ----------------------------------------------------------------------------------------------- training

STUDENTS = ("separator", "tagger")
STUDENT_SEED_OFFSET = {"separator": 0, "tagger": 1}
"""Each student has its own seed (recipe seed + offset) for initialisation and batches, so either trains alone."""
SEPARATOR_CLIP_NORM = 5.0
N_VALIDATION_BATCHES = 4
"""Fixed validation batches per separator validation set."""
TRAINED_WEIGHTS = "trained_weights"
"""Checkpoint key of the optimised weights when the student ships their moving average (which is under its name)."""
MAX_TAGGER_VALIDATION_WINDOWS = 4096
"""Tagger validation scores at most this many context windows, evenly spread over the validation clips."""


@dataclass
class Students:
    separator: BandSplitSeparator
    tagger: MobileTagger


class TaggerLogits(nn.Module):
    """The tagger's logits as a module's forward (so DDP wraps the call that training makes)."""

    def __init__(self, tagger: MobileTagger) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.tagger.logits(magnitude)


def fresh_student(recipe: Recipe, student: str) -> nn.Module:
    """The untrained student, initialised from its own seed."""
    check_student(student)
    torch.manual_seed(recipe.seed + STUDENT_SEED_OFFSET[student])
    return make_separator(recipe) if student == "separator" else make_tagger(recipe)


def check_student(student: str) -> str:
    if student not in STUDENTS:
        raise ConfigError(f"student {student!r} unknown; expected one of {list(STUDENTS)}")
    return student


SDR_HISTORY_KEYS = {"out-of-source": "val_oos", "in-source": "val_in", "generator": "val_gen"}
"""History key of each SDR validation set: ``separator_<key>_sdr_db[_<stem>]``."""


class SeparatorTask:
    """Batches, loss and validation of the separator (ground-truth stems plus the Spleeter teacher)."""

    clip_norm: float | None = SEPARATOR_CLIP_NORM

    def __init__(self, recipe: Recipe, rng: np.random.Generator) -> None:
        self.recipe = recipe
        self.train = load_separator_data(recipe, "train")
        self.batches = SeparatorBatches(self.train, recipe, rng)
        self.val_batches: dict[str, list[tuple[torch.Tensor, ...]]] = {}
        for split in ("val-oos", "val-in", "val"):
            validation = load_separator_data(recipe, split)
            if validation.songs:
                source = SeparatorBatches(validation, recipe, np.random.default_rng(recipe.seed + 9), augment=False)
                self.val_batches[split] = [
                    source.ground_truth(recipe.training.batch_size) for _ in range(N_VALIDATION_BATCHES)
                ]
        if not self.val_batches:
            source = SeparatorBatches(self.train, recipe, np.random.default_rng(recipe.seed + 9), augment=False)
            self.val_batches["val"] = [
                source.ground_truth(recipe.training.batch_size) for _ in range(N_VALIDATION_BATCHES)
            ]
        self.teacher = load_teacher_separator(recipe) if recipe.training.teacher_weight > 0 else None
        self.sdr_songs: dict[str, list[dict[str, np.ndarray]]] = {}
        if recipe.training.select_separator_by == "sdr":
            self.sdr_songs = {
                name: songs for name, prefix in VALIDATION_SETS.items() if (songs := validation_songs(recipe, prefix))
            }
            if "out-of-source" not in self.sdr_songs:
                raise ConfigError(
                    f"recipe {recipe.source}: [training] select_separator_by = 'sdr' needs out-of-source validation "
                    f"songs ({recipe.out / 'data' / 'separator'}/{VALIDATION_SETS['out-of-source']}-*.npz): run "
                    "`sense export render-data` with [data] n_varied_validation_songs > 0"
                )
            if generator := validation_songs(recipe, "", GENERATOR_VALIDATION):
                self.sdr_songs["generator"] = generator  # logged beside, never choosing

    def wrap(self, model: nn.Module) -> nn.Module:
        """The separator as the device runs it: masks held between its runs when it runs every few hops."""
        return HeldMasks(model, self.recipe.separator.every_n_hops)  # type: ignore[arg-type]

    def loss(self, module: nn.Module, model: BandSplitSeparator, device: torch.device) -> torch.Tensor:
        training = self.recipe.training
        mixture, stems, onsets, known = self.batches.ground_truth(training.batch_size)
        use_teacher = bool(self.train.real) and training.spleeter_weight > 0
        inputs = mixture
        if use_teacher:  # one forward for both batches (DDP expects one forward per backward)
            real_mixture, teacher = self.batches.spleeter(training.batch_size)
            inputs = torch.cat([mixture, real_mixture])
        outputs = module(inputs.to(device), *(s.to(device) for s in model.initial_states(len(inputs))))
        all_masks = outputs[0]
        power = training.magnitude_compression
        mixture = mixture.to(device)
        loss = separator_loss(all_masks[: len(mixture)], mixture, stems.to(device), power)
        if model.n_onset_classes and training.onset_weight > 0:
            loss = loss + training.onset_weight * onset_loss(
                outputs[1][: len(mixture)], onsets.to(device), known.to(device)
            )
        if self.teacher is not None:  # self-distillation: the teacher separator's stem estimates of the same batch
            with torch.no_grad():
                self.teacher.to(device)
                states = [state.to(device) for state in self.teacher.initial_states(len(mixture))]
                teacher_stems = self.teacher(mixture, *states)[0] * mixture[:, :, None]
            loss = loss + training.teacher_weight * separator_loss(
                all_masks[: len(mixture)], mixture, teacher_stems, power
            )
        if use_teacher:
            loss = loss + training.spleeter_weight * spleeter_loss(
                all_masks[len(mixture) :],
                real_mixture.to(device),
                teacher.to(device),
                self.recipe.separator.stems,
                power,
            )
        return loss

    @torch.no_grad()
    def validate(self, model: BandSplitSeparator) -> dict[str, float]:
        """Mean compressed-L1 loss (and onset loss) on fixed validation batches of each validation set; with
        ``select_separator_by = "sdr"`` also the SDR per stem and its mean on the whole validation songs.

        ``separator_val_loss`` -- the number that picks checkpoints -- is the out-of-source set's loss when there is
        one (every stem from a held-out source), or minus its mean SDR; the in-source sets are reported beside it."""
        power = self.recipe.training.magnitude_compression
        result: dict[str, float] = {}
        held = HeldMasks(model, self.recipe.separator.every_n_hops)
        for split, batches in self.val_batches.items():
            mask_losses, onset_losses = [], []
            for mixture, stems, onsets, known in batches:
                outputs = held(mixture, *model.initial_states(len(mixture)))
                mask_losses.append(float(separator_loss(outputs[0], mixture, stems, power)))
                if model.n_onset_classes and bool(known.any()):
                    onset_losses.append(float(onset_loss(outputs[1], onsets, known)))
            key = split.replace("-", "_")
            result[f"separator_{key}_mask_loss"] = float(np.mean(mask_losses))
            if onset_losses:
                result[f"separator_{key}_onset_loss"] = float(np.mean(onset_losses))
        chosen = "val_oos" if "val-oos" in self.val_batches else next(iter(self.val_batches)).replace("-", "_")
        weight = self.recipe.training.onset_weight
        result["separator_val_loss"] = result[f"separator_{chosen}_mask_loss"] + weight * result.get(
            f"separator_{chosen}_onset_loss", 0.0
        )
        for name, songs in self.sdr_songs.items():
            key = SDR_HISTORY_KEYS[name]
            by_stem = songs_sdr_db(held, songs, tuple(self.recipe.separator.stems))
            result.update({f"separator_{key}_sdr_db_{stem}": value for stem, value in by_stem.items()})
            result[f"separator_{key}_sdr_db"] = float(np.mean(list(by_stem.values())))
        if self.sdr_songs:  # lower is better, as for the loss: minus the out-of-source mean SDR
            result["separator_val_loss"] = -result["separator_val_oos_sdr_db"]
        return result


class TaggerTask:
    """Batches, loss and validation of the tagger (YAMNet's probabilities as soft targets)."""

    clip_norm: float | None = None

    def __init__(self, recipe: Recipe, rng: np.random.Generator) -> None:
        self.batch_size = recipe.training.student_batch_size("tagger")
        self.batches = TaggerBatches(load_tagger_clips(recipe, "train"), recipe, rng)
        self.val = TaggerBatches(load_tagger_clips(recipe, "val"), recipe, np.random.default_rng(recipe.seed + 7))
        self.val_picks = self.val.evenly_spaced(MAX_TAGGER_VALIDATION_WINDOWS)
        if not self.batches.index:
            raise ConfigError(
                f"recipe {recipe.source}: no tagger training windows in {recipe.out / 'data' / 'tagger'}; "
                "run render-data and cache-teachers first"
            )

    def wrap(self, model: nn.Module) -> nn.Module:
        return TaggerLogits(model)  # type: ignore[arg-type]

    def loss(self, module: nn.Module, model: MobileTagger, device: torch.device) -> torch.Tensor:
        windows, targets = self.batches.sample(self.batch_size)
        return tagger_loss(module(windows.to(device)), targets.to(device))

    @torch.no_grad()
    def validate(self, model: MobileTagger) -> dict[str, float]:
        """Loss, mAP against the teacher's labels (> 0.5; labels with enough positives, as in the evaluation) and
        label agreement on the validation clips."""
        if not self.val.index:
            return {}
        parts = [(model.logits(windows), targets) for windows, targets in self.val.chunks(self.val_picks)]
        logits, targets = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        probabilities = torch.sigmoid(logits).numpy()
        binary = targets.numpy() > 0.5
        result = {
            "tagger_val_loss": float(tagger_loss(logits, targets)),
            "tagger_val_agreement": float(np.mean((probabilities > 0.5) == binary)),
        }
        if binary.any():
            from export.evaluate.metrics import mean_average_precision
            from export.evaluate.tagging import MIN_POSITIVES_TO_SCORE

            value, _ = mean_average_precision(binary.astype(np.float32), probabilities, MIN_POSITIVES_TO_SCORE)
            if np.isfinite(value):
                result["tagger_val_map"] = value
        return result


def _rank_world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def checkpoint_dir(recipe: Recipe) -> Path:
    return recipe.out / "checkpoints"


def last_checkpoint(recipe: Recipe, student: str) -> Path:
    return checkpoint_dir(recipe) / f"last-{check_student(student)}.pt"


def best_checkpoint(recipe: Recipe, student: str) -> Path:
    return checkpoint_dir(recipe) / f"best-{check_student(student)}.pt"


def checkpoint_info(recipe: Recipe) -> dict[str, dict[str, Any]]:
    """Per student with a last checkpoint: its step, training seconds, history and best validation loss, and the
    step of the weights :func:`load_students` ships (the best checkpoint's, else the last) with that step's
    validation numbers ({} if the history has no entry for it)."""
    info: dict[str, dict[str, Any]] = {}
    for student in STUDENTS:
        path = last_checkpoint(recipe, student)
        if path.exists():
            state = torch.load(str(path), map_location="cpu", weights_only=False)
            best_path = best_checkpoint(recipe, student)
            shipped_step = (
                torch.load(str(best_path), map_location="cpu", weights_only=False)["step"]
                if best_path.exists()
                else state["step"]
            )
            at_step = [entry for entry in state["history"] if entry.get("step") == shipped_step]
            info[student] = {
                "path": str(path),
                "step": state["step"],
                "train_seconds": state.get("train_seconds"),  # None when the checkpoint does not say
                "history": state["history"],
                "best": state["best"],
                "shipped_step": shipped_step,
                "shipped_validation": at_step[-1] if at_step else {},
            }
    return info


def _with_onset_branch(recipe: Recipe, model: BandSplitSeparator, state: dict[str, Any]) -> dict[str, Any]:
    """The separator's checkpoint with the separately trained onset branch (``onset-branch.pt``) laid over it."""
    from export.onset_training import onset_branch_checkpoint

    path = onset_branch_checkpoint(recipe)
    if model.onset_branch is not None and path.exists():
        branch = torch.load(str(path), map_location="cpu", weights_only=False)["onset_branch"]
        state.update({f"onset_branch.{k}": v for k, v in branch.items()})
    return state


def load_students(recipe: Recipe, best: bool = True) -> Students:
    """Each student from its best-validation checkpoint (``best``), else its last one; fresh from its seed when it
    has no checkpoint at all."""
    models = {}
    for student in STUDENTS:
        model = fresh_student(recipe, student)
        candidates = ([best_checkpoint(recipe, student)] if best else []) + [last_checkpoint(recipe, student)]
        path = next((p for p in candidates if p.exists()), None)
        if path is not None:
            state = torch.load(str(path), map_location="cpu", weights_only=False)[student]
            if student == "separator":
                state = _with_onset_branch(recipe, model, state)
            model.load_state_dict(state)
        models[student] = model.eval()
    return Students(models["separator"], models["tagger"])  # type: ignore[arg-type]


def distill(
    recipe: Recipe,
    steps: int | None = None,
    resume: bool = True,
    progress: Callable[[str, int, int, dict[str, float]], None] = lambda student, step, total, numbers: None,
    log: Progress = lambda message: None,
    students: tuple[str, ...] = STUDENTS,
) -> dict[str, dict[str, Any]]:
    """Train each of ``students`` in turn to its recipe steps (or ``steps``); returns each one's final numbers.
    Students are independent, so two processes may train them side by side (``students=("tagger",)``)."""
    distributed = _rank_world()[1] > 1
    if distributed:  # one process group for every student (re-initialising one under torchrun hangs)
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        return {
            student: train_student(
                recipe,
                student,
                steps,
                resume,
                lambda step, total, numbers, s=student: progress(s, step, total, numbers),
                log,
            )
            for student in students
        }
    finally:
        if distributed:
            torch.distributed.destroy_process_group()


def match_optimizer_state_to_parameters(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter optimizer tensor (AdamW's moments) its parameter's shape where a checkpoint stored
    it in an older layout of the same values in the same memory order: the separator's conv weights went from
    (D, D, 1, k) to (D, D, k, 1) (the model turns them as it loads, :class:`NarrowBandBlock`), their moments
    must follow or the first step fails to broadcast."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape != parameter.shape and value.numel() == parameter.numel():
                    state[key] = value.reshape(parameter.shape)


def train_student(
    recipe: Recipe,
    student: str,
    steps: int | None = None,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, float]], None] = lambda step, total, numbers: None,
    log: Progress = lambda message: None,
) -> dict[str, Any]:
    """Train one student for its recipe steps (or ``steps``), checkpointing and resuming; returns its final numbers."""
    training = recipe.training
    total_steps = training.student_steps(check_student(student)) if steps is None else steps
    rank, world = _rank_world()
    distributed = world > 1
    if distributed and not torch.distributed.is_initialized():
        raise ConfigError(
            "distributed training (WORLD_SIZE > 1) goes through distill(), which sets up the process group"
        )
    if not torch.cuda.is_available():
        torch.set_num_threads(training.threads)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(recipe.seed + STUDENT_SEED_OFFSET[student] + 1000 * (rank + 1))
    task: SeparatorTask | TaggerTask = SeparatorTask(recipe, rng) if student == "separator" else TaggerTask(recipe, rng)
    model = fresh_student(recipe, student)
    if (
        student == "separator"
        and training.init_from_pack
        and not (resume and last_checkpoint(recipe, student).exists())
    ):
        from edge.pack import load_pack

        pack = load_pack(Path(training.init_from_pack))
        artifact = pack.root / pack.separator.artifact("onnx", "fp32").file
        onsets = pack.onsets.artifact("onnx", "fp32") if pack.onsets is not None else None
        fresh = warm_start_separator(model, artifact, pack.root / onsets.file if onsets is not None else None)
        log(f"separator: warm start from {artifact} (fresh: {', '.join(fresh) or 'nothing'})")
    elif (
        student == "separator"
        and training.init_from_checkpoint
        and not (resume and last_checkpoint(recipe, student).exists())
    ):
        fresh, unused = warm_start_from_checkpoint(model, Path(training.init_from_checkpoint))
        log(
            f"separator: warm start from {training.init_from_checkpoint} (fresh: {_modules(fresh)}; "
            f"not used: {_modules(unused)})"
        )
    model = model.to(device).train()
    ema_decay = training.tagger_ema_decay if student == "tagger" else 0.0
    average: torch.optim.swa_utils.AveragedModel | None = None
    if ema_decay > 0:
        average = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay), use_buffers=True
        ).eval()
    # the weights validated, checkpointed under the student's name and exported: the moving average, if any
    shipped = average.module if average is not None else model
    module = task.wrap(model)
    if distributed:
        module = nn.parallel.DistributedDataParallel(module)
    optimizer = torch.optim.AdamW(model.parameters(), training.learning_rate, weight_decay=training.weight_decay)
    directory = checkpoint_dir(recipe)
    directory.mkdir(parents=True, exist_ok=True)
    history_path = directory / f"history-{student}.json"
    history: list[dict[str, float]] = []
    best = float("inf")
    step = 0
    train_seconds = 0.0
    last_path = last_checkpoint(recipe, student)
    if resume and last_path.exists():
        state = torch.load(str(last_path), map_location=device, weights_only=False)
        model.load_state_dict(state[TRAINED_WEIGHTS] if average is not None else state[student])
        if average is not None:
            average.module.load_state_dict(state[student])
            average.n_averaged.fill_(state["n_averaged"])
        optimizer.load_state_dict(state["optimizer"])
        match_optimizer_state_to_parameters(optimizer)
        step, best, history = state["step"], state["best"], state["history"]
        train_seconds = state.get("train_seconds", 0.0)
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        log(f"{student}: resumed from {last_path} at step {step}")

    def save(path: Path) -> None:
        if rank != 0:
            return
        state = {
            student: shipped.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "best": best,
            "history": history,
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "recipe": recipe.name,
            "train_seconds": train_seconds + time.monotonic() - session_start,
        }
        if average is not None:
            state.update({TRAINED_WEIGHTS: model.state_dict(), "n_averaged": int(average.n_averaged)})
        partial = path.with_suffix(".partial")
        torch.save(state, str(partial))
        partial.replace(path)

    last_save = session_start = time.monotonic()
    numbers: dict[str, float] = {}
    while step < total_steps:
        for group in optimizer.param_groups:
            group["lr"] = training.learning_rate_at(step, total_steps)
        loss = task.loss(module, model, device)  # type: ignore[arg-type]
        optimizer.zero_grad()
        loss.backward()
        if task.clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), task.clip_norm)
        optimizer.step()
        if average is not None:
            average.update_parameters(model)
        numbers[f"{student}_loss"] = loss.item()
        step += 1
        if step % training.student_validate_every_steps(student) == 0 or step == total_steps:
            if rank == 0:
                shipped.eval()
                numbers.update(task.validate(shipped))  # type: ignore[arg-type]
                model.train()
                numbers["learning_rate"] = optimizer.param_groups[0]["lr"]
                history.append({"step": step, **numbers})
                history_path.write_text(json.dumps(history, indent=1) + "\n")
                log(f"{student} step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(numbers.items())))
                if numbers.get(f"{student}_val_loss", float("inf")) < best:
                    best = numbers[f"{student}_val_loss"]
                    save(best_checkpoint(recipe, student))
        progress(step, total_steps, numbers)
        if time.monotonic() - last_save > training.checkpoint_every_seconds:
            save(last_path)
            last_save = time.monotonic()
    save(last_path)
    if not best_checkpoint(recipe, student).exists():
        save(best_checkpoint(recipe, student))
    return {"step": step, "best": best, **numbers}
