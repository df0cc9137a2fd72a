"""Fixtures of the export tests: the tiny recipe run once end to end through `sense export recipe`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.pack import Pack, load_pack

REPO = Path(__file__).resolve().parents[2]
TINY_RECIPE = REPO / "recipes" / "tiny.toml"
DEFAULT_RECIPE = REPO / "recipes" / "default.toml"


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
