"""The one shared check that streaming equals offline (STYLE.md #6), for every stateful stage."""

from __future__ import annotations

from typing import Callable

import numpy as np

from edge.stream import StreamStage


def random_block_sizes(n_total: int, rng: np.random.Generator, max_block: int) -> list[int]:
    """Split ``n_total`` into random block sizes in [0, max_block] (zero-length blocks included on purpose)."""
    sizes: list[int] = []
    remaining = n_total
    while remaining > 0:
        size = int(min(remaining, rng.integers(0, max_block + 1)))
        sizes.append(size)
        remaining -= size
    return sizes


def run_in_blocks(stage: StreamStage, signal: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Reset ``stage``, feed ``signal`` in blocks of ``sizes`` along axis 0, concatenate outputs on axis 0."""
    stage.reset()
    outputs = []
    start = 0
    for size in sizes:
        outputs.append(stage.process(signal[start : start + size]))
        start += size
    return np.concatenate(outputs, axis=0)


def assert_streaming_equals_offline(
    make_stage: Callable[[], StreamStage],
    signal: np.ndarray,
    *,
    seed: int = 0,
    n_trials: int = 5,
    max_block: int = 1000,
    atol: float = 1e-5,
) -> np.ndarray:
    """Check that random block sizes give the same output as one call; return the offline output."""
    stage = make_stage()
    stage.reset()
    offline = stage.process(signal)
    rng = np.random.default_rng(seed)
    for trial in range(n_trials):
        sizes = random_block_sizes(len(signal), rng, max_block)
        streamed = run_in_blocks(stage, signal, sizes)
        assert streamed.shape == offline.shape, f"trial {trial}: shape {streamed.shape} != offline {offline.shape}"
        np.testing.assert_allclose(streamed, offline, atol=atol, rtol=0, err_msg=f"trial {trial}, blocks {sizes[:8]}…")
    # A fresh stage after reset() must give the same answer again (no hidden state survives reset).
    stage.reset()
    np.testing.assert_allclose(stage.process(signal), offline, atol=atol, rtol=0, err_msg="after reset()")
    return offline
