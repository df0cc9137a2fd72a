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
from export.distill import load_students, stem_prior
from export.evaluate.separators import StftSettings
from export.recipe import Recipe
from export.separator_validation import VALIDATION_SETS, mask_sdr_db, song_masks, validation_songs
from export.students.band_split import STEM_PRIOR_BANDS_HZ, HeldMasks, StemPrior

PRIOR_WEIGHT_GRID = (0.0, 0.25, 0.5, 0.625, 0.75, 1.0)


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
    held = HeldMasks(model, recipe.separator.every_n_hops)
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
            references, mixture, spectrum, masks = song_masks(held, song, stems, stft)
            for weight, prior in priors.items():
                with torch.no_grad():
                    weighted = prior(masks)[0].numpy()
                for stem, value in mask_sdr_db(references, mixture, spectrum, weighted, stems, stft).items():
                    scores.setdefault((name, stem, weight), []).append(value)
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
