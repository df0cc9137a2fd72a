"""`sense export prior-weights` scores the stem prior's weights on the validation songs only, with the separator the
export ships, and picks per stem the weight with the best mean over the two validation sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import ConfigError
from export.distill import load_students
from export.evaluate.istft import analyse
from export.evaluate.metrics import separation_scores
from export.evaluate.separators import StftSettings, apply_masks
from export.prior_weights import VALIDATION_SETS, PriorWeightGrid, prior_weight_grid, validation_songs
from export.recipe import load_recipe


def test_grid_scores_the_shipped_separator_on_validation_songs_and_picks_the_best_mean(tiny_run) -> None:
    recipe = load_recipe(tiny_run.recipe_path).with_out_dir(tiny_run.out)
    grid = prior_weight_grid(recipe, weights=(0.0, 0.5, 1.0))
    assert set(grid.n_songs) == set(VALIDATION_SETS) and all(n >= 1 for n in grid.n_songs.values())
    # weight 0 is the separator's own masks: score them here without the grid's code
    song = validation_songs(recipe, VALIDATION_SETS["out-of-source"])[0]
    mixture = np.sum(list(song.values()), axis=0)
    stft = StftSettings()
    spectrum = analyse(mixture, stft.n_fft, stft.hop, stft.window)
    model = load_students(recipe).separator
    every = recipe.separator.every_n_hops  # the tiny recipe's masks are held every other hop, as the device holds them
    assert every == 2
    magnitude = torch.from_numpy(np.abs(spectrum).astype(np.float32))[None]
    with torch.no_grad():
        runs = model(magnitude[:, ::every], *model.initial_states(1))[0]
    masks = runs.repeat_interleave(every, dim=1)[:, : magnitude.shape[1]]
    estimates = apply_masks(mixture, masks[0].numpy(), grid.stems, stft, spectrum)
    live = [stem for stem in grid.stems if np.abs(song[stem]).max() > 0]
    own = separation_scores({s: song[s] for s in live}, {s: estimates[s] for s in live})
    assert grid.n_songs["out-of-source"] == 1 and "drums" in live and len(live) >= 2
    for stem in live:
        assert grid.sdr_db[("out-of-source", stem, 0.0)] == pytest.approx(own[stem].sdr_db, abs=1e-4)
    assert grid.sdr_db[("out-of-source", "drums", 0.5)] == grid.sdr_db[("out-of-source", "drums", 0.0)]
    assert any(grid.sdr_db[("out-of-source", s, 0.5)] != own[s].sdr_db for s in live if s != "drums")
    chosen = dict(zip(grid.stems, grid.chosen()))
    assert chosen["drums"] == 0.0
    for stem in grid.pitched():
        means = [m for w in grid.weights if (m := grid.mean_over_sets(stem, w)) is not None]
        assert grid.mean_over_sets(stem, chosen[stem]) == max(means) if means else chosen[stem] == 0.0


def test_chosen_weights_follow_the_mean_of_both_sets() -> None:
    sdr = {
        ("out-of-source", "bass", 0.0): 1.0,
        ("out-of-source", "bass", 1.0): 5.0,  # out-of-source alone would pick 1.0
        ("in-source", "bass", 0.0): 4.0,
        ("in-source", "bass", 1.0): -2.0,  # in-source alone 0.0; the mean (2.5 vs 1.5) too
    }
    grid = PriorWeightGrid(("drums", "bass"), (0.0, 1.0), sdr, {"out-of-source": 1, "in-source": 1})
    assert grid.chosen() == (0.0, 0.0)


def test_cli_prints_the_recipe_line_and_refuses_an_out_dir_without_validation_songs(tiny_run, tmp_path: Path) -> None:
    report = tmp_path / "grid.md"
    result = CliRunner().invoke(
        app,
        ["export", "prior-weights", str(tiny_run.recipe_path), "--out", str(tiny_run.out), "--markdown", str(report)],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "prior_weights = [" in result.output and "| bass | out-of-source (" in result.output
    assert report.read_text().splitlines()[-1].startswith("prior_weights = [")
    empty = CliRunner().invoke(app, ["export", "prior-weights", str(tiny_run.recipe_path), "--out", str(tmp_path)])
    assert empty.exit_code != 0
    assert isinstance(empty.exception, ConfigError) and "val-oos-varied" in str(empty.exception)
