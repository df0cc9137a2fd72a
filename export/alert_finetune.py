"""Teach a pack's tagger to fire on alerts (siren, alarm, doorbell, telephone, knock) from ground truth.

Why: the tagger is distilled from YAMNet, and YAMNet hardly recognises our synthetic alerts (the bundled
example's doorbell scored 0.01), so distillation cannot teach them. Here the truth of what we synthesised is the
target instead, and the tagger's other labels are kept by self-distillation:

- start: the pack's tagger read back from its fp32 ONNX (BatchNorms folded; they stay frozen);
- alert clips: each alert class made by the training families (``export.data.alert_sounds``, family 'b' held out)
  in many random variants, alone, over training music and over training speech, starting at a random moment,
  through random EQ, saturation, compression, room and microphone; the alert's label is 1 on windows whose last
  ALERT_RECENT_S heard it sound, else 0; the other alert labels 0;
- clips without alerts (music, speech, speech over music, noise textures): every alert label 0 (what keeps false
  alarms down);
- every other label, on every clip: the starting tagger's own output (frozen copy), so nothing else moves.
Windows are the tagger's context (``context_frames`` of the device STFT). The result is written as the recipe's
tagger checkpoints (``<out>/checkpoints/{best,last}-tagger.pt``), which the export stages read.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge.errors import ConfigError
from edge.pack import Pack
from export.data.alert_sounds import (
    ALERT_CLASSES,
    check_training_alert_family,
    sounding_frames,
    synthesize_alert,
    training_families,
)
from export.data.augment import augment_segment
from export.data.multitrack import STEMS
from export.data.sound_events import noise_texture
from export.data.sources import SAMPLE_RATE_HZ
from export.distill import HOP, best_checkpoint, checkpoint_dir, last_checkpoint, magnitude_frames, make_tagger
from export.recipe import Recipe
from export.students.onnx_weights import load_batchnorm_folded_weights

ALERT_RECENT_S = 0.3
CLIP_SECONDS = 4.0
HARD_NEGATIVE_MIN_PROBABILITY = 0.3
HARD_NEGATIVE_STRIDE_FRAMES = 8
"""Mining looks at every 8th window (the tagger's own update rate)."""
ALERT_STREAM = 11
"""Alert clips come from ``np.random.default_rng([recipe.seed, ALERT_STREAM])`` (training seeds only)."""


@dataclass(frozen=True)
class AlertClipSettings:
    """What :func:`build_clips` makes."""

    n_variants_per_family: int = 30
    """Alert clips per class and training family and condition (alone, over music, over speech)."""
    n_music_clips: int = 1500
    n_other_clips: int = 600
    """Clips without alerts besides music: speech alone, speech over music, noise textures (a third each)."""
    augment_probability: float = 0.4


@dataclass(frozen=True)
class AlertFinetuneSettings(AlertClipSettings):
    steps: int = 6000
    batch_size: int = 48
    learning_rate: float = 3e-4
    alert_weight: float = 2.0
    """Weight of the alert labels' loss relative to each other label's (self-distillation) loss."""
    hard_negative_fraction: float = 0.0
    """Share of each batch drawn from mined hard negatives: windows of clips without alerts on which the model
    being trained gives an alert label at least HARD_NEGATIVE_MIN_PROBABILITY (mined every ``mine_every_steps``)."""
    mine_every_steps: int = 2000
    distill_fraction: float = 0.0
    """Share of each batch drawn from the recipe's own tagger training clips with their YAMNet targets (the
    original distillation), alert labels not scored there: keeps the other labels where the alert clips do not
    reach (drums, bells, wind ...)."""


@dataclass
class _Clip:
    magnitude: np.ndarray
    """(n_frames, n_bins)."""
    alert: np.ndarray
    """(n_frames, n_alert_classes) 1 where the alert sounded within ALERT_RECENT_S before the frame (all 0 for
    music without alerts)."""


def _recent(sounding: np.ndarray, n_recent: int) -> np.ndarray:
    """(n,) bool -> (n,) bool: sounded at any of the last ``n_recent`` frames (including this one)."""
    counts = np.convolve(sounding.astype(np.int64), np.ones(n_recent, np.int64))[: len(sounding)]
    return counts > 0


def _place(event: np.ndarray, n_samples: int, start: int) -> np.ndarray:
    clip = np.zeros(n_samples, np.float32)
    end = min(n_samples, start + len(event))
    clip[start:end] = event[: end - start]
    return clip


def _bed(background: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n_samples`` excerpt of ``background`` (tiled when shorter)."""
    start = int(rng.integers(0, max(1, len(background) - n_samples)))
    return np.resize(background[start : start + n_samples], n_samples).astype(np.float32)


def _at_random_level(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``audio`` at a random peak level between -20 dB and -1 dB full scale."""
    return audio * (10 ** (rng.uniform(-20, 0) / 20) * 0.9 / max(float(np.abs(audio).max()), 1e-9))


def _clip(audio: np.ndarray, truth: np.ndarray) -> _Clip:
    magnitude = magnitude_frames(audio.astype(np.float32))
    return _Clip(magnitude, truth[: len(magnitude)])


def build_clips(
    recipe: Recipe,
    settings: AlertClipSettings,
    music: list[np.ndarray],
    speech: list[np.ndarray],
    progress: Callable[[str], None] = lambda message: None,
) -> list[_Clip]:
    """Alert clips (alone / over music / over speech) with frame-level truth, and clips without alerts: music,
    speech, music with speech, and background noise textures.

    Every clip goes through the recipe's stem augmentation (EQ, saturation, compression on the alert and on the
    bed; one room; the microphone path) with probability ``settings.augment_probability`` per effect; the alert's
    truth is where the dry alert sounds."""
    rng = np.random.default_rng([recipe.seed, ALERT_STREAM])
    n_samples = int(CLIP_SECONDS * SAMPLE_RATE_HZ)
    n_frames = n_samples // HOP
    n_recent = max(1, int(ALERT_RECENT_S * SAMPLE_RATE_HZ / HOP))
    silence = np.zeros(n_samples, np.float32)
    no_alert = np.zeros((n_frames, len(ALERT_CLASSES)), np.float32)

    def mixed(foreground: np.ndarray, bed: np.ndarray | None) -> np.ndarray:
        """foreground over bed (foreground RMS -12..+3 dB re the bed's), both augmented, at a random level."""
        if bed is None:
            stems = np.stack([foreground, silence])
        else:
            ratio = 10 ** (rng.uniform(-12, 3) / 20)
            gain = ratio * np.sqrt(np.mean(bed**2) / max(float(np.mean(foreground**2)), 1e-12))
            stems = np.stack([gain * foreground, bed])
        stems, noise = augment_segment(stems, rng, settings.augment_probability, SAMPLE_RATE_HZ)
        return _at_random_level(stems.sum(axis=0) + noise, rng)

    clips: list[_Clip] = []
    for class_index, kind in enumerate(ALERT_CLASSES):
        progress(f"alert clips: {kind} (families {', '.join(training_families())})")
        for family in training_families():
            check_training_alert_family(family)
            for variant in range(settings.n_variants_per_family):
                event = synthesize_alert(kind, family, rng, float(rng.uniform(1.5, CLIP_SECONDS)))
                event *= 0.9 / max(float(np.abs(event).max()), 1e-9)
                placed = _place(event, n_samples, int(rng.uniform(0, 1.5) * SAMPLE_RATE_HZ))
                truth = no_alert.copy()
                truth[:, class_index] = _recent(sounding_frames(placed, HOP), n_recent)
                backgrounds = [
                    None,
                    _bed(music[int(rng.integers(len(music)))], n_samples, rng) if music else None,
                    _bed(speech[int(rng.integers(len(speech)))], n_samples, rng) if speech else None,
                ]
                for background in backgrounds:
                    clips.append(_clip(mixed(placed, background), truth))
    progress(f"clips without alerts: {settings.n_music_clips} music, {settings.n_other_clips} speech/noise")
    for _ in range(settings.n_music_clips):
        clips.append(_clip(mixed(_bed(music[int(rng.integers(len(music)))], n_samples, rng), None), no_alert))
    for index in range(settings.n_other_clips):
        kind = index % 3
        if kind == 0 and speech:
            audio = mixed(_bed(speech[int(rng.integers(len(speech)))], n_samples, rng), None)
        elif kind == 1 and speech and music:
            voice = _bed(speech[int(rng.integers(len(speech)))], n_samples, rng)
            audio = mixed(voice, _bed(music[int(rng.integers(len(music)))], n_samples, rng))
        else:
            audio = mixed(noise_texture(rng, CLIP_SECONDS)[:n_samples], None)
        clips.append(_clip(audio, no_alert))
    return clips


def _freeze_batchnorm(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
            for parameter in module.parameters():
                parameter.requires_grad_(False)


@torch.no_grad()
def mine_hard_negatives(
    model: nn.Module, clips: list[_Clip], context: int, alert_columns: list[int], batch: int = 512
) -> list[tuple[int, int]]:
    """(clip, frame) windows of clips without alerts where ``model`` gives any alert label at least
    HARD_NEGATIVE_MIN_PROBABILITY (every HARD_NEGATIVE_STRIDE_FRAMES-th window)."""
    was_training = model.training
    model.eval()
    candidates = [
        (c, f)
        for c, clip in enumerate(clips)
        if not clip.alert.any()
        for f in range(context - 1, len(clip.magnitude), HARD_NEGATIVE_STRIDE_FRAMES)
    ]
    hard = []
    for start in range(0, len(candidates), batch):
        chunk = candidates[start : start + batch]
        windows = torch.from_numpy(np.stack([clips[c].magnitude[f - context + 1 : f + 1] for c, f in chunk]))
        scores = model(windows)[:, alert_columns].amax(dim=1).numpy()
        hard += [pick for pick, score in zip(chunk, scores) if score >= HARD_NEGATIVE_MIN_PROBABILITY]
    model.train(was_training)
    return hard


def finetune_alerts(
    recipe: Recipe,
    pack: Pack,
    music: list[np.ndarray],
    speech: list[np.ndarray],
    settings: AlertFinetuneSettings = AlertFinetuneSettings(),
    progress: Callable[[str], None] = lambda message: None,
    init: Path | None = None,
) -> Path:
    """Fine-tune ``pack``'s tagger on alerts (see the module docstring); returns the checkpoint written.
    ``init``: start from this tagger checkpoint (e.g. an earlier alert fine-tune) instead of the pack's weights;
    the self-distillation targets stay the pack's tagger."""
    torch.set_num_threads(recipe.training.threads)
    torch.manual_seed(recipe.seed + 3)
    context = recipe.tagger.context_frames
    model = make_tagger(recipe).eval()
    load_pack_tagger(model, pack)
    teacher = copy.deepcopy(model).eval()
    if init is not None:
        model.load_state_dict(torch.load(str(init), map_location="cpu", weights_only=False)["tagger"])
    labels = list(recipe.tagger.labels)
    alert_columns = [labels.index(kind) for kind in ALERT_CLASSES]
    clips = build_clips(recipe, settings, music, speech, progress)
    index = [(c, f) for c, clip in enumerate(clips) for f in range(context - 1, len(clip.magnitude))]
    label_weights = torch.ones(len(labels))
    label_weights[alert_columns] = settings.alert_weight
    rng = np.random.default_rng([recipe.seed, ALERT_STREAM, 1])
    model.train()
    _freeze_batchnorm(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], settings.learning_rate)
    history = []
    started = time.monotonic()
    hard: list[tuple[int, int]] = []
    n_hard = int(round(settings.hard_negative_fraction * settings.batch_size))
    n_distill = int(round(settings.distill_fraction * settings.batch_size))
    distilled = None
    if n_distill:
        from export.distill import TaggerBatches, load_tagger_clips

        progress("loading the recipe's tagger training clips (YAMNet targets)")
        distilled = TaggerBatches(load_tagger_clips(recipe, "train"), recipe, np.random.default_rng([recipe.seed, 3]))
    not_alert = torch.ones(len(labels))
    not_alert[alert_columns] = 0.0
    for step in range(1, settings.steps + 1):
        if n_hard and (step - 1) % settings.mine_every_steps == 0:
            hard = mine_hard_negatives(model, clips, context, alert_columns)
            progress(f"step {step}: {len(hard)} hard negative windows")
        n_own = settings.batch_size - (n_hard if hard else 0) - (n_distill if distilled else 0)
        picks = [index[int(i)] for i in rng.integers(0, len(index), n_own)]
        if hard:
            picks += [hard[int(i)] for i in rng.integers(0, len(hard), n_hard)]
        windows = torch.from_numpy(np.stack([clips[c].magnitude[f - context + 1 : f + 1] for c, f in picks]))
        with torch.no_grad():
            targets = teacher(windows)
        truth = torch.from_numpy(np.stack([clips[c].alert[f] for c, f in picks]))
        targets[:, alert_columns] = truth
        weights = label_weights.expand(len(picks), -1)
        if distilled is not None:
            distill_windows, distill_targets = distilled.sample(n_distill)
            windows = torch.cat([windows, distill_windows])
            targets = torch.cat([targets, distill_targets])
            weights = torch.cat([weights, not_alert.expand(n_distill, -1)])
        loss = nn.functional.binary_cross_entropy_with_logits(model.logits(windows), targets, weight=weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == settings.steps:
            history.append({"step": step, "alert_finetune_loss": loss.item()})
            progress(f"alert fine-tune step {step}/{settings.steps}: loss {loss.item():.4f}")
    model.eval()
    path = write_tagger_checkpoints(
        recipe,
        model,
        settings.steps,
        history,
        time.monotonic() - started,
        "alert_finetune",
        {
            "from_pack": f"{pack.name} {pack.version}",
            "init": None if init is None else str(init),
            "settings": settings.__dict__,
        },
    )
    (checkpoint_dir(recipe) / "history-tagger.json").write_text(json.dumps(history, indent=1) + "\n")
    return path


def load_pack_tagger(model: nn.Module, pack: Pack) -> None:
    """Load ``pack``'s tagger into ``model`` (the recipe's tagger) from its fp32 ONNX, BatchNorms folded; a
    ConfigError when the pack has none or the model does not reproduce it."""
    spec = pack.tagger
    if spec is None:
        raise ConfigError(f"pack {pack.source} has no tagger")
    load_batchnorm_folded_weights(
        model,
        pack.root / spec.artifact("onnx", "fp32").file,  # type: ignore[union-attr]
        (torch.rand(1, spec.context_frames, spec.inputs[0].shape[-1]) * 4,),
    )


def write_tagger_checkpoints(
    recipe: Recipe,
    model: nn.Module,
    step: int,
    history: list[dict[str, float]],
    train_seconds: float,
    kind: str,
    provenance: dict[str, object],
) -> Path:
    """``model`` as the recipe's tagger checkpoints (last and best: what the export stages read), with how it was
    made under ``kind``; returns the last checkpoint's path."""
    checkpoint_dir(recipe).mkdir(parents=True, exist_ok=True)
    state = {
        "tagger": model.state_dict(),
        "step": step,
        "best": float("nan"),
        "history": history,
        "recipe": recipe.name,
        "train_seconds": train_seconds,
        kind: provenance,
    }
    for path in (last_checkpoint(recipe, "tagger"), best_checkpoint(recipe, "tagger")):
        torch.save(state, str(path))
    return last_checkpoint(recipe, "tagger")


MELODIC_STEMS = [STEMS.index("vocals"), STEMS.index("other")]
SILENT_STEM_RMS = 1e-3


def training_backgrounds(
    recipe: Recipe, n_music: int = 60, n_speech: int = 40
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Music (mixtures of the recipe's rendered training songs, and their vocals and other stems alone) and speech
    (asterisk prompts and espeak-ng training sentences) that alert clips are laid over; training material only."""
    from export.data.sources import LoadReport, espeak_speech, load_audio_files, speech_files
    from export.data.training_sets import ESPEAK_SENTENCES

    paths = sorted((recipe.out / "data" / "separator").glob("train-*.npz"))
    rng = np.random.default_rng([recipe.seed, ALERT_STREAM, 2])
    music = []
    for i in rng.permutation(len(paths))[:n_music]:
        with np.load(paths[int(i)]) as stored:
            stems = stored["stems"].astype(np.float32)
        music.append(stems.sum(axis=0))
        # the melodic stems alone too: sung and synth lines with vibrato and glides are what sirens are confused with
        music += [stem for stem in stems[MELODIC_STEMS,] if np.sqrt(np.mean(stem**2)) > SILENT_STEM_RMS]
    speech = [audio for _, audio in load_audio_files(speech_files(n_speech, rng), LoadReport())]
    speech += [espeak_speech(sentence, voice="en") for sentence in ESPEAK_SENTENCES]
    return music, speech
