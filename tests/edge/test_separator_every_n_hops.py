"""A separator that runs every other hop (manifest ``every_n_hops = 2``; the bundled default pack's graphs with that
line changed): its masks are its graph's on frames 0, 2, 4, ... of the stream (states carried from run to run),
each held for the frame after it, whatever the block sizes, on every runtime and precision (torch-free: runs on a
device install)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.model_stages import SeparatorStage
from edge.pack import Pack, load_pack
from edge.runners import open_runner
from edge.stft import magnitude_frames
from edge.stream import DEVICE_STREAM
from tests.streaming import assert_streaming_equals_offline

SECOND = DEVICE_STREAM.sample_rate_hz


@pytest.fixture(scope="module")
def strided_pack(default_pack: Pack, tmp_path_factory: pytest.TempPathFactory) -> Pack:
    root = tmp_path_factory.mktemp("packs") / "strided"
    shutil.copytree(default_pack.root, root)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["models"]["separator"]["every_n_hops"] = 2
    (root / "manifest.json").write_text(json.dumps(manifest))
    return load_pack(Path(root))


@pytest.fixture(scope="module")
def magnitude(example_samples: np.ndarray) -> np.ndarray:
    return magnitude_frames(example_samples[: SECOND * 2])  # (n_frames, n_bins), n_frames odd or even alike


@pytest.mark.parametrize("variant", [("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32"), ("litert", "int8")])
def test_held_masks_stream_like_offline(strided_pack: Pack, magnitude: np.ndarray, variant: tuple[str, str]) -> None:
    runner = open_runner(strided_pack, strided_pack.separator, *variant)  # type: ignore[arg-type]
    assert runner.model.every_n_hops == 2
    masks = assert_streaming_equals_offline(
        lambda: SeparatorStage(runner), magnitude, seed=5, n_trials=2, max_block=9, atol=2e-5
    )
    assert masks.shape == (len(magnitude), 4, magnitude.shape[1])
    np.testing.assert_array_equal(masks[1::2], masks[0::2][: len(masks[1::2])])  # each mask held one hop


def test_held_masks_are_the_graph_run_on_every_other_frame(strided_pack: Pack, magnitude: np.ndarray) -> None:
    """The reference is the ONNX graph itself, called once on frames 0, 2, 4, ... from zero states."""
    spec = strided_pack.separator
    runner = open_runner(strided_pack, spec, "onnx", "fp32")  # type: ignore[arg-type]
    states = {state.input: np.zeros(state.shape, np.float32) for state in spec.states}  # type: ignore[union-attr]
    runs = runner.run({"magnitude": magnitude[None, ::2], **states})["masks"][0]
    masks = SeparatorStage(runner).process(magnitude)
    np.testing.assert_allclose(masks[0::2], runs, atol=1e-5, rtol=0)
    every_hop = runner.run({"magnitude": magnitude[None], **states})["masks"][0]
    assert np.max(np.abs(masks - every_hop)) > 0.05  # not the graph on every frame: the states differ


def test_one_hop_calls_run_the_graph_only_on_every_other_hop(strided_pack: Pack, magnitude: np.ndarray) -> None:
    """The device's calls, one hop each: the graph runs on hops 0, 2, 4, ... and the others return the held masks."""
    runner = open_runner(strided_pack, strided_pack.separator, "litert", "fp32")  # type: ignore[arg-type]
    stage = SeparatorStage(runner)
    calls = []
    step = stage.steps._step  # one graph run (through the runner's frame stepper or its run)

    def counting(frames: np.ndarray) -> np.ndarray:
        calls.append(len(calls))
        return step(frames)

    stage.steps._step = counting  # type: ignore[method-assign]
    rows = [stage.process(magnitude[i : i + 1]) for i in range(9)]
    assert len(calls) == 5 and all(row.shape == (1, 4, magnitude.shape[1]) for row in rows)
    stage.reset()
    assert stage.process(magnitude[:1]).any() and len(calls) == 6  # after reset the first hop runs again
