"""int8 LiteRT export of the band-split separator: streamed through the edge runner on audio it was not
calibrated on, its masks must track the torch model (the bug this guards: LiteRT merged the per-band input
quantization of the band-split encoders into one int8 tensor with the quietest band's scale, clipping every
louder band — held-out mask correlation 0.45 on the trained separator; the band split now stays float)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edge import DEVICE_SAMPLE_RATE_HZ
from edge.audio_source import read_audio_file
from edge.model_stages import SeparatorStage
from edge.pack import ArtifactSpec, ModelSpec, StateSpec, TensorSpec
from edge.runners.litert_runner import LiteRtRunner
from export.distill import HOP, N_BINS, N_FFT, WINDOW, magnitude_frames
from export.recipe_run import streamed_calibration
from export.step_model import StepSignature
from export.students.band_split import BandSplitConfig, BandSplitSeparator
from export.tflite_export import export_tflite, leave_split_readers_float, tflite_io_names

EXAMPLE_SOUND = Path(__file__).resolve().parents[2] / "edge" / "data" / "example.flac"
CALIBRATION_SECONDS = (0.0, 4.0)
"""The example's first half (groove, bass, chords) calibrates; the second half (voice-like melody, doorbell) is
the unseen audio."""
TEST_SECONDS = (4.0, 8.0)
TILT_CORNER_HZ = 1000.0
TILT_EXPONENT = 1.5
"""Magnitudes above the corner fall as (f / corner) ** -exponent (-9 dB per octave): music rendered from General
MIDI, like the held-out songs, has ~30 dB less in the top band than in the bass; the example's hi-hats do not."""
N_CALIBRATION_STEPS = 192
MIN_MASK_CORRELATION = 0.99
"""Same bar as the ONNX int8 parity in the pack (issue 3)."""


def _separator_and_signature() -> tuple[BandSplitSeparator, StepSignature]:
    """Randomly initialised, with the default bands (the split into 33 bands of 2..16 bins is what matters)."""
    torch.manual_seed(5)
    separator = BandSplitSeparator(BandSplitConfig(n_bins=N_BINS, n_channels=16, dilations=(1, 2))).eval()
    return separator, StepSignature("magnitude", "masks", (1, 1, N_BINS), tuple(separator.state_shapes(1)))


def _litert_runner(path: Path, separator: BandSplitSeparator, signature: StepSignature) -> LiteRtRunner:
    """The edge runtime's LiteRT runner on ``path`` (int8 state inputs are (de)quantized by the runner)."""
    model = ModelSpec(
        key="separator",
        role="separator",
        sample_rate_hz=DEVICE_SAMPLE_RATE_HZ,
        n_fft=N_FFT,
        hop=HOP,
        window=WINDOW,
        algorithmic_latency_ms=1000.0 * N_FFT / DEVICE_SAMPLE_RATE_HZ,
        inputs=(TensorSpec("magnitude", (1, -1, N_BINS), "float32"),),
        outputs=(TensorSpec("masks", (1, -1, separator.n_stems, N_BINS), "float32"),),
        states=tuple(
            StateSpec(i, o, s, "float32")
            for i, o, s in zip(signature.state_inputs, signature.state_outputs, signature.state_shapes)
        ),
        names=("vocals", "drums", "bass", "other"),
        artifacts=(),
        macs_per_second=0.0,
        n_parameters=0,
    )
    artifact = ArtifactSpec(path.name, "litert", "int8", "0" * 64, 1, tflite_io_names(signature))
    return LiteRtRunner(model, artifact, path, n_threads=1)


def _example_magnitude() -> np.ndarray:
    """(n_frames, N_BINS) device-STFT magnitudes of the example sound with the music-like spectral tilt."""
    frequencies_hz = np.arange(N_BINS) * DEVICE_SAMPLE_RATE_HZ / N_FFT
    tilt = np.minimum(1.0, (np.maximum(frequencies_hz, 1.0) / TILT_CORNER_HZ) ** -TILT_EXPONENT)
    return (magnitude_frames(read_audio_file(EXAMPLE_SOUND)) * tilt).astype(np.float32)


def _seconds(magnitude: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    first, last = (int(s * DEVICE_SAMPLE_RATE_HZ / HOP) for s in span)
    return magnitude[first:last]


@pytest.fixture(scope="module")
def int8_separator(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[BandSplitSeparator, StepSignature, Path, np.ndarray]:
    separator, signature = _separator_and_signature()
    magnitude = _example_magnitude()
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one-frame steps: more threads only spin on the shared cores (30 s instead of 0.2 s)
    try:
        calibration = streamed_calibration(
            separator,
            signature,
            [_seconds(magnitude, CALIBRATION_SECONDS)],
            N_CALIBRATION_STEPS,
            np.random.default_rng(0),
        )
        path = export_tflite(
            separator,
            signature,
            tmp_path_factory.mktemp("tflite-int8") / "separator.int8.tflite",
            calibration=calibration,
            float_modules=separator.float_in_int8,
        )
    finally:
        torch.set_num_threads(n_threads)
    return separator, signature, path, _seconds(magnitude, TEST_SECONDS)


def test_int8_litert_masks_track_torch_on_unseen_audio(int8_separator) -> None:
    separator, signature, path, magnitude = int8_separator
    with torch.no_grad():
        reference = separator(torch.from_numpy(magnitude)[None], *separator.initial_states())[0][0].numpy()
    streamed = SeparatorStage(_litert_runner(path, separator, signature)).process(magnitude)
    correlation = float(np.corrcoef(streamed.ravel(), reference.ravel())[0, 1])
    assert correlation >= MIN_MASK_CORRELATION, f"int8 LiteRT mask correlation vs torch {correlation:.4f}"


def test_int8_litert_keeps_int8_weights_except_the_band_split_and_merge(int8_separator) -> None:
    separator, _, path, _ = int8_separator
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    weighted = [op for op in ops if op["op_name"] in ("FULLY_CONNECTED", "CONV_2D")]
    n_trunk_layers = (
        sum(isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) for m in separator.modules()) - 2 * separator.n_bands
    )
    assert len(weighted) == n_trunk_layers
    assert all(tensors[op["inputs"][1]]["dtype"] == np.int8 for op in weighted)
    batched = [op for op in ops if op["op_name"] == "BATCH_MATMUL"]
    assert len(batched) == 2, "the band split and merge: one batched product each, not one layer per band"
    assert all(tensors[index]["dtype"] == np.float32 for op in batched for index in op["inputs"])


class _SplitReaders(torch.nn.Module):
    """A tensor cut in pieces of different widths, each read by its own Linear, then one Linear on the stack."""

    def __init__(self) -> None:
        super().__init__()
        self.widths = (2, 3, 5)
        self.readers = torch.nn.ModuleList(torch.nn.Linear(width, 4) for width in self.widths)
        self.after = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(x, list(self.widths), dim=-1)
        return self.after(torch.stack([read(piece) for read, piece in zip(self.readers, pieces)], dim=1))


def test_only_readers_of_a_split_are_left_float() -> None:
    model = _SplitReaders().eval()
    graph = torch.export.export(model, (torch.rand(1, 10),)).module()
    for node in graph.graph.nodes:
        node.meta["quantization_annotation"] = "int8"
    left_float = leave_split_readers_float(graph)
    assert len(left_float) == len(model.widths)
    assert all(node.target is torch.ops.aten.linear.default for node in graph.graph.nodes if node.name in left_float)
    annotated = [n for n in graph.graph.nodes if "quantization_annotation" in n.meta]
    assert sum(n.target is torch.ops.aten.linear.default for n in annotated) == 1  # the Linear after the stack
