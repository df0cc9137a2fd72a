"""The LiteRT runner feeds the interpreter's tensors directly (re-planning memory only when an input's shape
changes): outputs must equal LiteRT's own signature runner, call after call with carried state, and a wrong feed
must be named."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import InferenceError
from edge.pack import load_pack
from edge.runners import open_runner
from edge.runners.litert_runner import interpreter_class


def _as_the_model_takes(value: np.ndarray, detail: dict) -> np.ndarray:
    """Quantize a float input the way the artifact's integer input expects (LiteRT's own details)."""
    scale, zero_point = detail["quantization"]
    if not np.issubdtype(detail["dtype"], np.integer) or scale == 0:
        return value
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(value / scale) + zero_point, info.min, info.max).astype(detail["dtype"])


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_hop_after_hop_equals_the_signature_runner(precision: str) -> None:
    """The separator streamed 6 hops, its state carried: the same outputs as LiteRT's signature runner fed alike."""
    pack = load_pack(None)
    spec = pack.separator
    assert spec is not None
    runner = open_runner(pack, spec, "litert", precision, 1)
    artifact = spec.artifact("litert", precision)
    assert artifact is not None
    reference = interpreter_class()(model_path=str(pack.root / artifact.file), num_threads=1).get_signature_runner()
    details = reference.get_input_details()
    rng = np.random.default_rng(0)
    states = {s.input: np.zeros(s.shape, np.float32) for s in spec.states}
    for _ in range(6):
        feed = {spec.inputs[0].name: rng.uniform(0, 3, (1, 1, spec.inputs[0].shape[-1])).astype(np.float32), **states}
        ours = runner.run(feed)
        theirs = reference(
            **{
                runner.artifact_name(name): _as_the_model_takes(value, details[runner.artifact_name(name)])
                for name, value in feed.items()
            }
        )
        for output in [*spec.outputs, *(state.output for state in spec.states)]:
            name = output if isinstance(output, str) else output.name
            np.testing.assert_array_equal(ours[name], theirs[runner.artifact_name(name)])
        states = {s.input: ours[s.output] for s in spec.states}


def test_a_feed_without_every_input_is_named() -> None:
    pack = load_pack(None)
    spec = pack.tagger
    assert spec is not None
    runner = open_runner(pack, spec, "litert", "fp32", 1)
    with pytest.raises(InferenceError, match="the model takes"):
        runner.run({})


def test_after_hot_path_calls_a_bad_feed_is_still_named_and_a_good_one_still_runs() -> None:
    """Once a feed's shapes are planned, float calls skip the checks (the hot path); a feed that differs (a missing
    state, an extra input, a wrong shape or dtype, not an array) must still get the checked path's named error, and
    the next good feed the same outputs as a fresh runner's."""
    pack = load_pack(None)
    spec = pack.separator
    assert spec is not None
    rng = np.random.default_rng(1)
    frames = [rng.uniform(0, 3, (1, 1, spec.inputs[0].shape[-1])).astype(np.float32) for _ in range(4)]
    zeros = {s.input: np.zeros(s.shape, np.float32) for s in spec.states}
    fresh = open_runner(pack, spec, "litert", "fp32", 1)
    runner = open_runner(pack, spec, "litert", "fp32", 1)
    name = spec.inputs[0].name
    for frame in frames[:3]:
        runner.run({name: frame, **zeros})
    assert runner._fast_inputs, "three float calls of one shape: the hot path is planned"
    a_state = spec.states[0].input
    with pytest.raises(InferenceError, match="the model takes"):
        runner.run({name: frames[3], **{k: v for k, v in zeros.items() if k != a_state}})
    with pytest.raises(InferenceError, match="the model takes"):
        runner.run({name: frames[3], "surplus": frames[3], **{k: v for k, v in zeros.items() if k != a_state}})
    with pytest.raises(InferenceError):
        runner.run({name: frames[3][:, :, :-1], **zeros})
    with pytest.raises(InferenceError, match="FLOAT64"):
        runner.run({name: frames[3].astype(np.float64), **zeros})
    ours = runner.run({name: frames[3], **zeros})
    expected = fresh.run({name: frames[3], **zeros})
    assert ours.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)
    assert runner._fast_inputs, "planned again after the checked call"


@pytest.mark.parametrize("role", ["separator", "onsets", "tagger"])
def test_the_bundled_fp32_graphs_run_in_one_xnnpack_partition(role: str) -> None:
    """XNNPACK (LiteRT's default CPU delegate) runs every operator of the default runtime's graphs: an operator it
    does not take (a GATHER_ND the band split and merge once used) splits the graph into partitions with the reference
    kernels between, which cost the separator ~9 % of the whole pipeline's instructions on the Pi 4 profile."""
    from collections import Counter

    pack = load_pack(None)
    spec = {"separator": pack.separator, "onsets": pack.onsets, "tagger": pack.tagger}[role]
    assert spec is not None
    artifact = spec.artifact("litert", "fp32")
    assert artifact is not None
    interpreter = interpreter_class()(model_path=str(pack.root / artifact.file), num_threads=1)
    interpreter.allocate_tensors()  # applies the delegate: each partition shows as one DELEGATE operator
    ops = Counter(op["op_name"] for op in interpreter._get_ops_details())
    assert ops["DELEGATE"] == 1, ops
    assert not {"GATHER", "GATHER_ND"} & set(ops), ops


@pytest.mark.parametrize("role, precision", [("separator", "fp32"), ("onsets", "fp32"), ("onsets", "int8")])
def test_frame_stepper_equals_the_runs_with_carried_states(role: str, precision: str) -> None:
    """The stateful stages step LiteRT frame by frame with the states kept in the interpreter (the frame stepper):
    the same outputs, bit for bit, as ``run`` with each call's states fed back; after a reset, and after a ``run`` of
    the same runner in between (which must still be allowed), it starts again from zero states."""
    from edge.model_stages import StatefulSteps

    pack = load_pack(None)
    spec = getattr(pack, role)
    frames = np.random.default_rng(2).uniform(0, 3, (40, spec.inputs[0].shape[-1])).astype(np.float32)
    stepped = StatefulSteps(open_runner(pack, spec, "litert", precision, 1))
    assert stepped._stepper is not None
    runner = open_runner(pack, spec, "litert", precision, 1)
    states = {s.input: np.zeros(s.shape, np.float32) for s in spec.states}
    expected = []
    for frame in frames:
        outputs = runner.run({spec.inputs[0].name: frame[None, None], **states})
        states = {s.input: outputs[s.output] for s in spec.states}
        expected.append(outputs[spec.outputs[0].name][0])
    for _ in range(2):
        ours = [stepped.process(frame[None]) for frame in frames]
        np.testing.assert_array_equal(np.concatenate(ours), np.concatenate(expected))
        stepped.runner.run({spec.inputs[0].name: frames[None, :1], **states})  # the runner's own path in between
        stepped.reset()
    np.testing.assert_array_equal(stepped.process(frames), np.concatenate(expected))  # a block, frame by frame


def test_frame_stepper_names_a_frame_of_the_wrong_width() -> None:
    from edge.model_stages import StatefulSteps

    pack = load_pack(None)
    stepped = StatefulSteps(open_runner(pack, pack.separator, "litert", "fp32", 1))
    with pytest.raises(InferenceError, match=r"model 'separator'.*shape \(1, 256\).*expected \(1, 257\)"):
        stepped.process(np.zeros((1, 256), np.float32))


def test_no_frame_stepper_for_onnx_integer_tensors_or_the_stateless_tagger() -> None:
    """Only float one-frame stateful artifacts step in place: ONNX runs, LiteRT int8 separators (integer tensors,
    (de)quantized by the runner) and the tagger (no states) go through ``run``."""
    pack = load_pack(None)
    assert open_runner(pack, pack.separator, "onnx", "fp32", 1).frame_stepper() is None
    assert open_runner(pack, pack.separator, "litert", "int8", 1).frame_stepper() is None
    assert open_runner(pack, pack.tagger, "litert", "fp32", 1).frame_stepper() is None
