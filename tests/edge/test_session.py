"""The whole running system (edge.session): streaming equals offline, no backlog, failsafe zeroing, live changes."""

import numpy as np
import pytest

from edge.errors import OutputError
from edge.outputs import RoutedOutput, open_output
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.errors import ConfigError
from edge.rig import default_rig
from edge.session import Session, open_session
from tests.streaming import assert_streaming_equals_offline
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
RATE_HZ = DEVICE_STREAM.sample_rate_hz


def make_pipeline(pack, outputs=(), **options) -> Session:
    options.setdefault("realtime_budget", None)  # offline tests: never drop hops unless a test asks for it
    return open_session(pack, default_rig(), list(outputs), **options)


def run_blocks(session: Session, blocks) -> None:
    for _ in session.run(blocks):
        pass


def test_pipeline_streaming_equals_offline(bundled_pack, example_samples) -> None:
    signal = example_samples[: RATE_HZ * 3]
    offline = assert_streaming_equals_offline(
        lambda: make_pipeline(bundled_pack), signal, max_block=900, n_trials=2, atol=1e-4
    )
    assert offline.shape == (len(signal) // HOP, default_rig().n_actuators)
    assert offline.max() > 0.1  # music drives the motors


def test_litert_and_onnx_pipelines_agree(bundled_pack, example_samples) -> None:
    signal = example_samples[:RATE_HZ]
    onnx = make_pipeline(bundled_pack, runtime="onnx").process(signal)
    litert = make_pipeline(bundled_pack, runtime="litert").process(signal)
    np.testing.assert_allclose(onnx, litert, atol=1e-3)


def test_falling_behind_renders_dsp_only_and_reports_dropped_hops(bundled_pack, example_samples) -> None:
    pipeline = make_pipeline(bundled_pack, realtime_budget=1e-6)  # any inference at all is "too slow"
    for start in range(0, RATE_HZ, HOP):
        pipeline.process(example_samples[start : start + HOP])
    summary = pipeline.telemetry.summary()
    assert summary["n_hops"] == 125
    assert 0 < summary["n_dropped_hops"] < 125
    assert len(pipeline.telemetry.stage_seconds["separator"]) == 125
    model_calls = sum(1 for s in pipeline.telemetry.stage_seconds["separator"] if s > 0)
    assert model_calls + summary["n_dropped_hops"] == 125


def test_no_fallback_without_budget(bundled_pack, example_samples) -> None:
    pipeline = make_pipeline(bundled_pack, realtime_budget=None)
    pipeline.process(example_samples[:RATE_HZ])
    assert pipeline.telemetry.n_dropped_hops == 0


def test_dsp_only_pipeline_runs_without_a_pack(example_samples) -> None:
    intensities = make_pipeline(None).process(example_samples[:RATE_HZ])
    assert intensities.shape == (125, default_rig().n_actuators) and intensities.max() > 0.1


class ExplodingRenderer:
    """A renderer stage that fails on its third block, like a bug in a stage would."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.n_channels = inner.n_channels
        self.n_calls = 0

    def reset(self) -> None:
        self.inner.reset()

    def process(self, analysis):
        self.n_calls += 1
        if self.n_calls == 3:
            raise ZeroDivisionError("bug in a stage")
        return self.inner.process(analysis)


def _sim_outputs(n: int) -> list[RoutedOutput]:
    half = n // 2
    return [
        RoutedOutput(open_output("sim://", half), np.arange(half)),
        RoutedOutput(open_output("sim://", n - half), np.arange(half, n)),
    ]


def test_exception_inside_a_stage_leaves_every_output_at_zero(bundled_pack, example_samples) -> None:
    rig = default_rig()
    outputs = _sim_outputs(rig.n_actuators)
    pipeline = open_session(bundled_pack, rig, outputs, wrap_renderer=ExplodingRenderer, realtime_budget=None)
    blocks = (example_samples[i : i + 1600] for i in range(0, RATE_HZ, 1600))
    with pytest.raises(ZeroDivisionError):
        run_blocks(pipeline, blocks)
    for routed in outputs:
        assert routed.output.closed
        assert routed.output.history()[:-1].max() > 0  # it had been vibrating…
        np.testing.assert_array_equal(routed.output.state, 0)  # …and was stopped
        np.testing.assert_array_equal(routed.output.history()[-1], 0)


def test_ctrl_c_from_the_source_zeroes_outputs(bundled_pack, example_samples) -> None:
    outputs = _sim_outputs(default_rig().n_actuators)
    pipeline = make_pipeline(bundled_pack, outputs)

    def source():
        yield example_samples[:8000]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_blocks(pipeline, source())
    for routed in outputs:
        assert routed.output.history()[:-1].max() > 0
        np.testing.assert_array_equal(routed.output.state, 0)


class FailingOutput(ActuatorOutput):
    """An output whose link dies after a few frames (far side of the link gone)."""

    def __init__(self, n_channels: int) -> None:
        super().__init__("failing://", n_channels)
        self.n_writes = 0

    def _write(self, frame: HapticFrame) -> None:
        self.n_writes += 1
        if self.n_writes > 5:
            raise OutputError("link lost")

    def _zero(self) -> None:
        pass


def test_one_failing_output_still_zeroes_the_others(bundled_pack, example_samples) -> None:
    n = default_rig().n_actuators
    good = open_output("sim://", n)
    outputs = [RoutedOutput(FailingOutput(n), np.arange(n)), RoutedOutput(good, np.arange(n))]
    with pytest.raises(OutputError, match="link lost"):
        run_blocks(make_pipeline(bundled_pack, outputs), [example_samples[:RATE_HZ]])
    assert good.history()[:-1].max() > 0
    np.testing.assert_array_equal(good.state, 0)
    assert good.closed


def test_telemetry_memory_is_bounded_but_totals_cover_the_whole_run() -> None:
    from edge.pipeline import STAGES, Telemetry

    telemetry = Telemetry(hop_s=0.008, window_calls=8)
    for call in range(20):
        telemetry.record({stage: 0.001 * (call + 1) for stage in STAGES}, n_hops=1)
    assert telemetry.n_hops == 20 and telemetry.n_calls == 20
    np.testing.assert_allclose(telemetry.stage_seconds["stft"], 0.001 * np.arange(13, 21))  # the last 8, oldest first
    summary = telemetry.summary()
    assert summary["latency_window_calls"] == 8
    assert summary["stages"]["render"]["total_s"] == pytest.approx(0.001 * sum(range(1, 21)))
    assert summary["stages"]["render"]["max_ms"] == pytest.approx(20.0)
    assert summary["stages"]["render"]["p50_ms"] > 10.0  # percentiles see only the recent window


def test_session_keeps_no_history_and_closes_when_the_consumer_stops(bundled_pack, example_samples) -> None:
    outputs = _sim_outputs(default_rig().n_actuators)
    session = make_pipeline(bundled_pack, outputs)
    hop = session.stream.hop
    blocks = (example_samples[i : i + hop] for i in range(0, len(example_samples), hop))
    for n_blocks, intensities in enumerate(session.run(blocks), start=1):
        assert intensities.shape == (1, session.n_actuators)
        if n_blocks == 200:
            break
    assert session.closed and all(routed.output.closed for routed in outputs)
    for routed in outputs:
        np.testing.assert_array_equal(routed.output.state, 0)
    session.close()  # idempotent
    with pytest.raises(ConfigError, match="closed"):
        session.process(example_samples[:hop])


def test_live_parameters_apply_from_the_next_block(bundled_pack, example_samples) -> None:
    session = make_pipeline(bundled_pack, realtime_budget=None)
    session.process(example_samples[:4000])
    session.set_param("use_models", False)  # DSP-only from now on: no model calls, nothing counted as dropped
    before = session.telemetry.stage_seconds["separator"].size
    session.process(example_samples[4000:8000])
    assert not session.telemetry.stage_seconds["separator"][before:].any()
    assert session.telemetry.n_dropped_hops == 0
    session.set_param("realtime_budget", 1e-6)
    assert session.params.realtime_budget == 1e-6 and session.pipeline.realtime_budget == 1e-6
    with pytest.raises(ConfigError, match="'precision' cannot change while running"):
        session.set_param("precision", "int8")
    with pytest.raises(ConfigError, match="realtime_budget: expected a positive number"):
        session.set_param("realtime_budget", -1)


def test_reset_makes_the_session_as_new(bundled_pack, example_samples) -> None:
    session = make_pipeline(bundled_pack, realtime_budget=None)
    first = session.process(example_samples[:8000])
    session.process(example_samples[8000:16000])
    session.reset()
    np.testing.assert_allclose(session.process(example_samples[:8000]), first, atol=1e-6)


def test_open_session_refuses_unknown_parameters(bundled_pack) -> None:
    with pytest.raises(ConfigError, match="unknown parameter\\(s\\) n_thread"):
        open_session(bundled_pack, None, (), n_thread=2)


def test_the_simulated_rig_keeps_a_bounded_history() -> None:
    from edge.outputs.sim import HISTORY_FRAMES, SimOutput

    sim = SimOutput(n_channels=2)
    for index in range(HISTORY_FRAMES + 100):
        sim.write(HapticFrame(t_s=index * 0.008, intensities=np.full(2, index % 7 / 7, dtype=np.float32)))
    sim.close()
    assert len(sim.frames) == HISTORY_FRAMES and sim.history().shape == (HISTORY_FRAMES, 2)
    assert np.all(sim.frames[-1][1] == 0.0)  # the zeroing at close is the last frame kept
