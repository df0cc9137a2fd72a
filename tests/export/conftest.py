"""Fixtures of the export tests: the tiny recipe run once end to end through `sense export recipe`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from edge.pack import Pack, load_pack
from export.distill import N_BINS
from export.step_model import StepSignature

REPO = Path(__file__).resolve().parents[2]
TINY_RECIPE = REPO / "recipes" / "tiny.toml"
DEFAULT_RECIPE = REPO / "recipes" / "default.toml"
CHECKPOINTS = REPO / "recipes" / "checkpoints" / "default-1.1.0"
ONSET_BRANCH = REPO / "recipes" / "checkpoints" / "default-1.4.0" / "onset-branch.pt"
"""The drum-onset branch sense-default 1.4.0 ships (beside 1.1.0's separator weights)."""
SHIPPED_SEPARATOR = REPO / "recipes" / "checkpoints" / "default-1.9.0" / "best-separator.pt"
"""The separator checkpoint sense-default 1.9.0 ships (3 blocks of 2-tap convs, self-distilled from 1.8.0; its onset
branch is ONSET_BRANCH, a graph of its own in the pack)."""
ONSET_CLASSES = 3


@dataclass
class TinyRun:
    recipe_path: Path
    out: Path
    pack: Pack
    output: str


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """`sense export recipe recipes/tiny.toml --out TMP`: render, teachers, distil, export, quantize, pack, verify."""
    from edge.cli import app

    out = tmp_path_factory.mktemp("tiny-recipe")
    result = CliRunner().invoke(app, ["export", "recipe", str(TINY_RECIPE), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return TinyRun(TINY_RECIPE, out, load_pack(out / "pack"), result.output)


def separator_signature(model: torch.nn.Module) -> StepSignature:
    """The step signature the recipe exports a band-split separator with (one frame, its states, its onsets)."""
    return StepSignature(
        "magnitude",
        "masks",
        (1, 1, N_BINS),
        tuple(model.state_shapes(1)),
        extra_outputs=("onsets",) if model.n_onset_classes else (),
    )


@pytest.fixture(scope="session")
def trained() -> torch.nn.Module:
    """sense-default 1.1.0's separator checkpoint (trained with the per-band code: the older conv layout) with the
    onset branch 1.4.0 ships, as the export loads them (the weights of sense-default 1.4.0's separator)."""
    from export.students.band_split import BandSplitConfig, BandSplitSeparator

    model = BandSplitSeparator(BandSplitConfig(n_onset_classes=ONSET_CLASSES)).eval()
    state = torch.load(str(CHECKPOINTS / "last-separator.pt"), map_location="cpu", weights_only=False)["separator"]
    branch = torch.load(str(ONSET_BRANCH), map_location="cpu", weights_only=False)["onset_branch"]
    model.load_state_dict({**state, **{f"onset_branch.{k}": v for k, v in branch.items()}})  # strict: same keys, shapes
    return model
