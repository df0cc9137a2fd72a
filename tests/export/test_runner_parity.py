"""ONNX Runtime and LiteRT runners against the PyTorch reference, and state carried step by step."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from edge.model_stages import SeparatorStage, TaggerStage
from edge.runners import Runtime, open_runner, resolve_runtime
from edge.errors import RuntimeUnavailableError
from export.step_model import run_torch
from edge.stft import magnitude_frames
from edge.stream import DEVICE_STREAM
from tests.streaming import assert_streaming_equals_offline
from edge.audio_source import read_audio_file
from edge.pack import Pack
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


@pytest.fixture(scope="module")
def example_samples() -> np.ndarray:
    return read_audio_file(EXAMPLE_SOUND)


RUNTIMES = ["onnx", "litert"]


@pytest.fixture(scope="module")
def magnitude(example_samples) -> np.ndarray:
    return magnitude_frames(example_samples[: DEVICE_STREAM.n_samples(2.0)])  # (250, 257)


def torch_masks(exported, magnitude: np.ndarray) -> np.ndarray:
    sig = exported.separator_signature
    args = (torch.from_numpy(magnitude)[None], *(torch.zeros(s) for s in sig.state_shapes))
    return run_torch(exported.separator, sig, args)["masks"][0].numpy()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_separator_fp32_matches_torch_on_the_whole_sequence(exported_pack, magnitude, runtime) -> None:
    stage = SeparatorStage(open_runner(exported_pack.pack, exported_pack.pack.separator, runtime, "fp32"))
    streamed = stage.process(magnitude)
    reference = torch_masks(exported_pack, magnitude)
    assert streamed.shape == reference.shape == (len(magnitude), 4, 257)
    assert np.max(np.abs(streamed - reference)) <= 1e-4


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_separator_state_carried_in_random_blocks_equals_one_call(exported_pack, magnitude, runtime) -> None:
    runner = open_runner(exported_pack.pack, exported_pack.pack.separator, runtime, "fp32")
    assert_streaming_equals_offline(lambda: SeparatorStage(runner), magnitude, max_block=9, atol=1e-5, n_trials=3)


def test_separator_state_matters(exported_pack, magnitude) -> None:
    """Guard: if state were ignored, frame-by-frame output would differ from the torch whole-sequence run."""
    runner = open_runner(exported_pack.pack, exported_pack.pack.separator, "onnx", "fp32")
    no_state = np.concatenate(
        [
            runner.run(
                {
                    "magnitude": magnitude[i : i + 1][None],
                    **{s.input: np.zeros(s.shape, np.float32) for s in runner.model.states},
                }
            )["masks"][0]
            for i in range(40)
        ]
    )
    assert np.max(np.abs(no_state - torch_masks(exported_pack, magnitude[:40]))) > 1e-3


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tagger_fp32_matches_torch(exported_pack, magnitude, runtime) -> None:
    spec = exported_pack.pack.tagger
    stage = TaggerStage(open_runner(exported_pack.pack, spec, runtime, "fp32"))
    probabilities = stage.process(magnitude)
    window = magnitude[96 - spec.context_frames : 96]
    with torch.no_grad():
        reference = exported_pack.tagger(torch.from_numpy(window)[None]).numpy()[0]
    assert (96 % spec.every_n_hops) == 0
    assert np.max(np.abs(probabilities[95] - reference)) <= 1e-4
    np.testing.assert_array_equal(probabilities[95], probabilities[96])  # held until the next run


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tagger_streaming_equals_offline(exported_pack, magnitude, runtime) -> None:
    """Small blocks, blocks longer than the stage's buffer of two contexts, and the device's one hop per call."""
    runner = open_runner(exported_pack.pack, exported_pack.pack.tagger, runtime, "fp32")
    context = exported_pack.pack.tagger.context_frames
    assert len(magnitude) > 2 * context
    offline = assert_streaming_equals_offline(
        lambda: TaggerStage(runner), magnitude, max_block=20, atol=1e-6, n_trials=3
    )
    assert_streaming_equals_offline(
        lambda: TaggerStage(runner), magnitude, max_block=3 * context, atol=1e-6, n_trials=3, seed=1
    )
    stage = TaggerStage(runner)
    one_hop = np.concatenate([stage.process(magnitude[i : i + 1]) for i in range(len(magnitude))])
    np.testing.assert_allclose(one_hop, offline, atol=1e-6, rtol=0)
    assert np.ptp(offline[-context:], axis=0).max() > 0  # the probabilities move: the test could fail


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_int8_masks_correlate_with_fp32(exported_pack, magnitude, runtime) -> None:
    pack = exported_pack.pack
    fp32 = SeparatorStage(open_runner(pack, pack.separator, runtime, "fp32")).process(magnitude)
    int8 = SeparatorStage(open_runner(pack, pack.separator, runtime, "int8")).process(magnitude)
    assert np.corrcoef(fp32.ravel(), int8.ravel())[0, 1] >= 0.99
    assert not np.array_equal(fp32, int8)  # really a different (quantized) model


def test_manifest_records_measured_parity(exported_pack) -> None:
    metrics = {m["name"]: m["value"] for m in exported_pack.pack.manifest["metrics"]}
    assert metrics["separator.onnx.fp32.mask_max_abs_diff_vs_torch"] <= 1e-4
    assert metrics["separator.litert.fp32.mask_max_abs_diff_vs_torch"] <= 1e-4
    assert metrics["separator.onnx.int8.mask_correlation_vs_torch"] >= 0.99


def test_resolver_prefers_the_cheapest_measured_runtime_and_explains_what_is_missing(exported_pack) -> None:
    spec = exported_pack.pack.separator
    runtime, artifact = resolve_runtime(spec, None, "fp32")
    assert runtime is Runtime.LITERT and artifact.file == "separator.tflite"  # LiteRT fp32 measured cheapest
    assert resolve_runtime(spec, "onnx", "fp32")[1].file == "separator.onnx"
    assert resolve_runtime(spec, "litert", "int8")[1].file == "separator.int8.tflite"
    with pytest.raises(RuntimeUnavailableError, match="no onnx fp16 artifact"):
        resolve_runtime(spec, "onnx", "fp16")


def test_thread_count_is_applied(exported_pack) -> None:
    runner = open_runner(exported_pack.pack, exported_pack.pack.separator, "onnx", "fp32", n_threads=2)
    assert runner.n_threads == 2
    assert runner._session.get_session_options().intra_op_num_threads == 2
