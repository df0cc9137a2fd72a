"""Fixtures of the runtime tests (torch-free: a device install runs this folder): bundled packs and sounds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from edge.audio_source import read_audio_file
from edge.pack import TEST_PACK_NAME, Pack, bundled_pack_path, load_pack
from edge.run import EXAMPLE_SOUND


@pytest.fixture()
def pack_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled test pack to break in tests."""
    destination = tmp_path / "pack"
    shutil.copytree(bundled_pack_path(TEST_PACK_NAME), destination)
    return destination


@pytest.fixture(scope="session")
def example_samples() -> np.ndarray:
    """The bundled example at 16 kHz mono, (n_samples,) float32."""
    return read_audio_file(EXAMPLE_SOUND)


@pytest.fixture(scope="session")
def bundled_pack() -> Pack:
    """The bundled test pack: every runtime and precision (ONNX/LiteRT, fp32/int8)."""
    return load_pack(bundled_pack_path(TEST_PACK_NAME))


@pytest.fixture(scope="session")
def default_pack() -> Pack:
    """The pack `sense run` uses when none is given."""
    return load_pack()


def write_sound(path: Path, samples: np.ndarray, rate_hz: int, subtype: str = "PCM_16") -> Path:
    soundfile.write(str(path), samples, rate_hz, subtype=subtype)
    return path
