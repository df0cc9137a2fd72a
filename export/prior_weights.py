"""Choose the separator's stem-prior weights (:class:`export.students.band_split.StemPrior`) on the recipe's
validation songs, never on the evaluation songs.

The separator's own masks (the prior taken off) on each out-of-source and in-source validation song; the prior
applied to them at each weight of a grid, every pitched stem at once (a stem's SDR depends only on its own mask
and the drums mask, which the prior leaves alone); SDR per stem and weight, the mean over songs. Per pitched stem
the chosen weight has the best mean of the two sets' SDR: out-of-source alone would tune on held-out sources,
in-source alone on the training sources. ``sense export prior-weights RECIPE`` prints the grid and the
``prior_weights`` line for the recipe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from edge.errors import ConfigError
from export.data.multitrack import STEMS as SONG_STEMS
from export.distill import load_students, stem_prior
from export.evaluate.istft import analyse
from export.evaluate.metrics import separation_scores
from export.evaluate.separators import StftSettings, apply_masks
from export.recipe import Recipe
from export.students.band_split import STEM_PRIOR_BANDS_HZ, StemPrior

PRIOR_WEIGHT_GRID = (0.0, 0.25, 0.5, 0.625, 0.75, 1.0)
VALIDATION_SETS = {"out-of-source": "val-oos-varied", "in-source": "val-in-varied"}
"""Validation set name -> file prefix of its songs in ``<out>/data/separator``."""


@dataclass(frozen=True)
class PriorWeightGrid:
    """Mean SDR (dB) over each validation set's songs, per (set, stem, weight)."""

    stems: tuple[str, ...]
    weights: tuple[float, ...]
    sdr_db: dict[tuple[str, str, float], float]
    n_songs: dict[str, int]

    def pitched(self) -> list[str]:
        return [stem for stem in self.stems if stem in STEM_PRIOR_BANDS_HZ]

    def mean_over_sets(self, stem: str, weight: float) -> float | None:
        """Mean over the sets where ``stem`` sounds in some song (None: in none of them)."""
        values = [self.sdr_db[key] for key in ((name, stem, weight) for name in self.n_songs) if key in self.sdr_db]
        return float(np.mean(values)) if values else None

    def chosen(self) -> tuple[float, ...]:
        """Per stem (recipe order): the grid weight with the best mean over the sets; 0 for drums, any stem
        without a band and a stem silent in every validation song."""

        def best(stem: str) -> float:
            scored = {w: m for w in self.weights if (m := self.mean_over_sets(stem, w)) is not None}
            return max(scored, key=lambda weight: scored[weight]) if scored else 0.0

        return tuple(best(stem) if stem in self.pitched() else 0.0 for stem in self.stems)


def validation_songs(recipe: Recipe, prefix: str) -> list[dict[str, np.ndarray]]:
    """Each rendered validation song of ``prefix`` as its stems by name, (n_samples,) float32 each."""
    songs = []
    for path in sorted((recipe.out / "data" / "separator").glob(f"{prefix}-*.npz")):
        with np.load(path) as stored:
            songs.append(dict(zip(SONG_STEMS, stored["stems"].astype(np.float32))))
    return songs


def prior_weight_grid(
    recipe: Recipe,
    weights: tuple[float, ...] = PRIOR_WEIGHT_GRID,
    progress: Callable[[str], None] = lambda message: None,
) -> PriorWeightGrid:
    """SDR of the recipe's separator checkpoint (the one the export ships) with the prior at each of ``weights``."""
    stems = tuple(recipe.separator.stems)
    if "drums" not in stems or not any(stem in STEM_PRIOR_BANDS_HZ for stem in stems):
        raise ConfigError(
            f"{recipe.source}: the stem prior needs a drums stem and one of {', '.join(STEM_PRIOR_BANDS_HZ)}"
        )
    model = load_students(recipe).separator
    model.stem_prior = None  # its own masks; each weight's prior is applied below
    priors = {
        weight: StemPrior(
            replace(
                model.config, stem_prior=stem_prior(stems, tuple(weight * (s in STEM_PRIOR_BANDS_HZ) for s in stems))
            )
        )
        for weight in weights
    }
    stft = StftSettings()
    scores: dict[tuple[str, str, float], list[float]] = {}
    n_songs = {}
    for name, prefix in VALIDATION_SETS.items():
        songs = validation_songs(recipe, prefix)
        if not songs:
            raise ConfigError(
                f"no {name} validation songs in {recipe.out / 'data' / 'separator'} ({prefix}-*.npz): run "
                "`sense export render-data` with [data] n_varied_validation_songs > 0"
            )
        n_songs[name] = len(songs)
        for index, song in enumerate(songs):
            progress(f"{name} song {index + 1}/{len(songs)}")
            references = {stem: song[stem] for stem in stems if np.abs(song[stem]).max() > 0}
            mixture = np.sum(list(song.values()), axis=0)
            spectrum = analyse(mixture, stft.n_fft, stft.hop, stft.window)
            with torch.no_grad():
                magnitude = torch.from_numpy(np.abs(spectrum).astype(np.float32))[None]
                masks = model(magnitude, *model.initial_states(1))[0]
                for weight, prior in priors.items():
                    estimates = apply_masks(mixture, prior(masks)[0].numpy(), stems, stft, spectrum)
                    scored = separation_scores(references, {stem: estimates[stem] for stem in references})
                    for stem, score in scored.items():
                        scores.setdefault((name, stem, weight), []).append(score.sdr_db)
    return PriorWeightGrid(stems, weights, {key: float(np.mean(values)) for key, values in scores.items()}, n_songs)


def grid_markdown(grid: PriorWeightGrid) -> str:
    """The grid as a Markdown table (stems x sets by weight), the chosen weight of each stem in bold."""
    chosen = dict(zip(grid.stems, grid.chosen()))
    lines = [
        "| stem | set | " + " | ".join(f"w {weight:g}" for weight in grid.weights) + " |",
        "|---|---|" + "---|" * len(grid.weights),
    ]
    for stem in grid.pitched():
        for name, count in grid.n_songs.items():
            values = [grid.sdr_db.get((name, stem, w)) for w in grid.weights]
            cells = [
                "—" if value is None else f"**{value:.2f}**" if w == chosen[stem] else f"{value:.2f}"
                for w, value in zip(grid.weights, values)
            ]
            lines.append(f"| {stem} | {name} ({count} songs) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recipe_line(grid: PriorWeightGrid) -> str:
    return "prior_weights = [" + ", ".join(f"{weight:g}" for weight in grid.chosen()) + "]"


def write_grid(grid: PriorWeightGrid, path: Path) -> None:
    path.write_text(grid_markdown(grid) + "\n\n" + recipe_line(grid) + "\n")
