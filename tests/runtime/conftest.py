"""Fixtures of the runtime tests: a freshly exported tiny pack plus the PyTorch students it came from."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from edge.audio_source import read_audio_file
from edge.pack import TEST_PACK_NAME, Pack, bundled_pack_path, load_pack
from edge.run import EXAMPLE_SOUND


@dataclass
class ExportedPack:
    pack: Pack
    separator: object
    tagger: object
    separator_signature: object
    tagger_signature: object


@pytest.fixture(scope="session")
def exported_pack(tmp_path_factory: pytest.TempPathFactory) -> ExportedPack:
    """Build the tiny pack with our export code (ONNX + TFLite, fp32 + int8) and keep the torch reference."""
    from export.tiny_pack import build_tiny_pack, make_tiny_students

    root = tmp_path_factory.mktemp("packs") / "tiny"
    pack = build_tiny_pack(root, seed=3)
    separator, tagger, sep_sig, tag_sig = make_tiny_students(seed=3)
    return ExportedPack(pack, separator, tagger, sep_sig, tag_sig)


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
