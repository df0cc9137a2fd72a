"""Fixtures of the evaluation tests: short held-out songs rendered once, and writable copies of the bundled pack."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge.pack import TEST_PACK_NAME, bundled_pack_path
from export.evaluate.heldout import Piece, heldout_songs

N_SONGS = 2
N_SECTIONS = 3
"""Three two-bar sections: every arrangement has all four stems playing in one of them (about 10 s a song)."""


@pytest.fixture(scope="session")
def songs() -> list[Piece]:
    return heldout_songs(N_SONGS, N_SECTIONS)


@pytest.fixture()
def pack_dir(tmp_path: Path) -> Path:
    """A writable copy of the bundled tiny test pack (every runtime and precision, fast to evaluate)."""
    destination = tmp_path / "pack"
    shutil.copytree(bundled_pack_path(TEST_PACK_NAME), destination)
    return destination
