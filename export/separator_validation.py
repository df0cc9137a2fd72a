"""SDR of a torch separator on a recipe's rendered validation songs, out of source and in source.

What picks separator checkpoints when ``[training] select_separator_by = "sdr"`` (the compressed-L1 validation
loss and SDR disagree: sessions saw the loss fall while SDR fell), and what the stem prior's weights are chosen on
(:mod:`export.prior_weights`). Songs are whole rendered validation songs (``val-oos-varied-*``: every stem from a
held-out source; ``val-in-varied-*``: training sources, other seeds); masks come from the model's forward over the
whole song (held as the device holds them, :class:`~export.students.band_split.HeldMasks`, when the separator
runs every few hops) and are applied to the mixture's STFT, as the evaluation does.
"""

from __future__ import annotations

import numpy as np
import torch

from export.data.multitrack import STEMS as SONG_STEMS
from export.evaluate.istft import analyse
from export.evaluate.metrics import separation_scores
from export.evaluate.separators import StftSettings, apply_masks
from export.recipe import Recipe
from export.students.band_split import BandSplitSeparator, HeldMasks

VALIDATION_SETS = {"out-of-source": "val-oos-varied", "in-source": "val-in-varied"}
"""Validation set name -> file prefix in ``<out>/data/separator``."""
GENERATOR_VALIDATION = "val-[0-9]*.npz"
"""The multitrack generator's validation songs (its soundfont and drum programming, other seeds): logged beside the
sets above, never choosing (the in-source evaluation songs come from this generator)."""


def validation_songs(recipe: Recipe, prefix: str, pattern: str | None = None) -> list[dict[str, np.ndarray]]:
    """Each rendered validation song of ``prefix`` (or of the glob ``pattern``) as its stems by name, (n_samples,)
    float32 each."""
    songs = []
    for path in sorted((recipe.out / "data" / "separator").glob(pattern or f"{prefix}-*.npz")):
        with np.load(path) as stored:
            songs.append(dict(zip(SONG_STEMS, stored["stems"].astype(np.float32))))
    return songs


def song_masks(
    model: BandSplitSeparator | HeldMasks, song: dict[str, np.ndarray], stems: tuple[str, ...], stft: StftSettings
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, torch.Tensor]:
    """(references of the stems that sound in ``song``, mixture (n_samples,), its STFT (n_frames, n_bins),
    the model's masks (1, n_frames, n_stems, n_bins)) for one song."""
    references = {stem: song[stem] for stem in stems if np.abs(song[stem]).max() > 0}
    mixture = np.sum(list(song.values()), axis=0)
    spectrum = analyse(mixture, stft.n_fft, stft.hop, stft.window)
    with torch.no_grad():
        magnitude = torch.from_numpy(np.abs(spectrum).astype(np.float32))[None]
        masks = model(magnitude, *model.initial_states(1))[0]
    return references, mixture, spectrum, masks


def mask_sdr_db(
    references: dict[str, np.ndarray],
    mixture: np.ndarray,
    spectrum: np.ndarray,
    masks: np.ndarray,
    stems: tuple[str, ...],
    stft: StftSettings,
) -> dict[str, float]:
    """SDR (dB) per sounding stem of ``masks`` (n_frames, n_stems, n_bins) applied to the mixture."""
    estimates = apply_masks(mixture, masks, stems, stft, spectrum)
    scores = separation_scores(references, {stem: estimates[stem] for stem in references})
    return {stem: score.sdr_db for stem, score in scores.items()}


def songs_sdr_db(
    model: BandSplitSeparator | HeldMasks, songs: list[dict[str, np.ndarray]], stems: tuple[str, ...]
) -> dict[str, float]:
    """Mean SDR (dB) over ``songs`` per stem (songs where a stem is silent do not count for it)."""
    stft = StftSettings()
    scores: dict[str, list[float]] = {}
    for song in songs:
        references, mixture, spectrum, masks = song_masks(model, song, stems, stft)
        for stem, value in mask_sdr_db(references, mixture, spectrum, masks[0].numpy(), stems, stft).items():
            scores.setdefault(stem, []).append(value)
    return {stem: float(np.mean(values)) for stem, values in scores.items()}
