"""The file source decodes and resamples in blocks: it yields hop-sized blocks, equals decoding the whole file at
once, and its peak memory does not depend on the file's length."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from edge.audio_source import FILE_READ_FRAMES, file_source
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
FILE_RATE_HZ = 44100


def stereo_file(path: Path, seconds: float) -> Path:
    """Stereo 44.1 kHz noise written in pieces (the test itself never holds the whole file either)."""
    rng = np.random.default_rng(1)
    with sf.SoundFile(str(path), "w", FILE_RATE_HZ, 2, "PCM_16") as sound:
        for _ in range(int(seconds)):
            sound.write(rng.uniform(-0.5, 0.5, (FILE_RATE_HZ, 2)).astype(np.float32))
    return path


def test_streamed_blocks_equal_the_whole_file_decode(tmp_path: Path) -> None:
    path = stereo_file(tmp_path / "song.wav", 5)
    blocks = list(file_source(path, HOP, read_frames=3000))  # reads that do not line up with hops
    assert all(len(block) == HOP for block in blocks[:-1]) and 0 < len(blocks[-1]) <= HOP
    whole, rate_hz = sf.read(str(path), dtype="float32", always_2d=True)
    offline = soxr.resample(whole.mean(axis=1, dtype=np.float32), rate_hz, DEVICE_STREAM.sample_rate_hz, quality="HQ")
    streamed = np.concatenate(blocks)
    assert streamed.shape == offline.shape
    np.testing.assert_allclose(streamed, offline, atol=1e-6)


def peak_bytes_reading(path: Path) -> int:
    tracemalloc.start()
    try:
        n_samples = sum(len(block) for block in file_source(path, HOP))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n_samples > 0
    return peak


def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    short = peak_bytes_reading(stereo_file(tmp_path / "short.wav", 10))
    long = peak_bytes_reading(stereo_file(tmp_path / "long.wav", 120))  # 120 s: 42 MB as float32 stereo
    one_read_bytes = FILE_READ_FRAMES * 2 * 4
    assert long < 8 * one_read_bytes, f"peak {long / 1e6:.1f} MB reading 120 s"
    assert long < short + one_read_bytes, f"peak {short / 1e6:.2f} MB (10 s) vs {long / 1e6:.2f} MB (120 s)"
