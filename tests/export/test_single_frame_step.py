"""The separator's one-frame step for LiteRT (``SingleFrameStep``) computes what the separator computes, and its
TFLite fp32 graph, streamed on the bundled example, gives the torch model's masks, onsets and states with fewer
operators than the separator converted as it is."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.audio_source import read_audio_file
from export.distill import N_BINS, magnitude_frames, stem_prior
from export.students.band_split import BandSplitConfig, BandSplitSeparator, SingleFrameStep, equal_width_runs
from export.tflite_export import export_tflite, single_frame_form
from tests.export.conftest import REPO, separator_signature

STEMS = ("vocals", "drums", "bass", "other")
EXAMPLE_SOUND = REPO / "edge" / "data" / "example.flac"
N_STREAMED_FRAMES = 150
MAX_TFLITE_OPERATORS = 380
"""Operators of the default separator's fp32 TFLite graph (with the onset branch): 404 converting the separator as
it is, 371 from SingleFrameStep (the widely dilated convs read their kernel's frames through a few small operators
instead of transposing their whole history; the band split and merge take each run of equal-width bands as a
slice and one BatchMatMul, ~45 operators where a GATHER_ND each took ~8, because XNNPACK runs no GATHER_ND: with
them the graph ran in three partitions with the gathers and the per-bin products between, ~30 % slower)."""


def stream(step: torch.nn.Module, magnitudes: np.ndarray, state_shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Every output of ``step`` fed one frame per call, states carried; one (n_frames, ...) array per output."""
    states = [torch.zeros(shape) for shape in state_shapes]
    outputs: list[list[np.ndarray]] = []
    with torch.no_grad():
        for frame in magnitudes:
            result = step(torch.from_numpy(frame[None, None]), *states)
            states = list(result[len(result) - len(states) :])
            outputs.append([tensor.numpy() for tensor in result])
    return [np.stack(column) for column in zip(*outputs)]


def example_magnitudes(n_frames: int) -> np.ndarray:
    """Device-STFT magnitudes of the bundled example from its first second on (music, then a doorbell)."""
    return magnitude_frames(read_audio_file(EXAMPLE_SOUND))[125 : 125 + n_frames]


@pytest.mark.parametrize(
    "config",
    [
        BandSplitConfig(n_onset_classes=3),
        BandSplitConfig(n_channels=8, kernel_frames=2, dilations=(4, 1), band_groups=((3, 4), (5, 3))),
        BandSplitConfig(n_onset_classes=3, log_floor=1e-3, stem_prior=stem_prior(STEMS, (0.5, 0.0, 0.5, 0.25))),
    ],
    ids=["default", "small-no-onsets", "log-features-and-stem-prior"],
)
def test_single_frame_step_equals_the_separator_frame_by_frame(config: BandSplitConfig) -> None:
    torch.manual_seed(3)
    model = BandSplitSeparator(config).eval()
    for parameter in model.parameters():  # scales and shifts away from 1 and 0, so that folding them shows
        parameter.data.add_(torch.randn_like(parameter) * 0.1)
    magnitudes = example_magnitudes(40)
    expected = stream(model, magnitudes, model.state_shapes(1))
    actual = stream(model.single_frame_step(), magnitudes, model.state_shapes(1))
    assert len(actual) == len(expected) == 1 + bool(config.n_onset_classes) + len(model.state_shapes(1))
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_single_frame_step_takes_one_frame_of_one_stream() -> None:
    model = BandSplitSeparator(BandSplitConfig(n_channels=8, dilations=(1,))).eval()
    with pytest.raises(ValueError, match=r"expected \(1, 1, 257\)"):
        model.single_frame_step()(torch.zeros(1, 2, N_BINS), *model.initial_states(1))


def test_tflite_converts_the_single_frame_step_for_one_frame_only(trained) -> None:
    one_frame = separator_signature(trained).example_args(n_frames=1)
    assert isinstance(single_frame_form(trained, one_frame), SingleFrameStep)
    assert single_frame_form(trained, (torch.zeros(1, 3, N_BINS),)) is trained  # frames: the model itself
    tagger_like = torch.nn.Linear(N_BINS, 4)
    assert single_frame_form(tagger_like, (torch.zeros(1, 1, N_BINS),)) is tagger_like  # no single-frame form


def test_tflite_fp32_streams_like_torch_with_fewer_operators(trained, tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path = export_tflite(trained, separator_signature(trained), tmp_path / "separator.tflite")
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()  # applies the XNNPACK delegate: its partitions show as DELEGATE operators
    ops = Counter(op["op_name"] for op in interpreter._get_ops_details())
    assert ops.pop("DELEGATE") == 1, ops  # one partition: XNNPACK runs the whole graph
    assert sum(ops.values()) <= MAX_TFLITE_OPERATORS, ops
    n_runs = len(equal_width_runs(trained.widths))  # the band merge turns each run's logits stem-major
    assert ops["TRANSPOSE"] <= 2 * len(trained.temporal) + 4 + n_runs, ops  # state in and conv in per block
    assert ops["RESHAPE"] <= 56 + 3 * n_runs, ops  # 96 converting the separator as it is: a pair per 4-D Linear
    assert not {"SQUARED_DIFFERENCE", "STRIDED_SLICE", "GATHER_ND", "GATHER"} & set(ops), ops

    magnitudes = example_magnitudes(N_STREAMED_FRAMES)
    expected = stream(trained, magnitudes, trained.state_shapes(1))
    runner = interpreter.get_signature_runner()
    states = [np.zeros(shape, np.float32) for shape in trained.state_shapes(1)]
    actual: list[list[np.ndarray]] = []
    for frame in magnitudes:
        result = runner(**{f"args_{i}": value for i, value in enumerate([frame[None, None], *states])})
        outputs = [result[f"output_{i}"] for i in range(len(result))]
        states = outputs[2:]
        actual.append(outputs)
    masks, onsets = (np.stack([outputs[i] for outputs in actual]) for i in (0, 1))
    np.testing.assert_allclose(masks, expected[0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(onsets, expected[1], atol=1e-5, rtol=0)
    for i, want in enumerate(expected[2:]):  # the states: layer-normalised features and onset-branch activations
        got = np.stack([outputs[2 + i] for outputs in actual])
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5, err_msg=f"state {i}")


def test_equal_width_runs_group_neighbouring_bands_of_one_width() -> None:
    assert equal_width_runs((2, 2, 4, 4, 4, 5)) == [(0, 2, 2, 0), (2, 3, 4, 4), (5, 1, 5, 16)]
    assert equal_width_runs((3, 5, 3)) == [(0, 1, 3, 0), (1, 1, 5, 3), (2, 1, 3, 8)]  # runs, not widths
