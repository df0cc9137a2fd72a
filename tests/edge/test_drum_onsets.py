"""The default pack's drum-onset graph on every runtime and precision, streamed every hop (its states carried), and
handed by the pipeline to the renderer (torch-free: runs on a device install)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.analysis import Analysis
from edge.haptics.base import Renderer
from edge.model_stages import OnsetStage
from edge.pack import Pack
from edge.rig import default_rig
from edge.runners import importable_runtimes, open_runner
from edge.session import open_session
from edge.stft import magnitude_frames
from edge.stream import DEVICE_STREAM
from tests.streaming import assert_streaming_equals_offline

SECOND = DEVICE_STREAM.sample_rate_hz


def _variants(pack: Pack) -> list[tuple[str, str]]:
    importable = {runtime.value for runtime in importable_runtimes()}
    assert pack.onsets is not None
    return [
        (artifact.runtime, artifact.precision) for artifact in pack.onsets.artifacts if artifact.runtime in importable
    ]


def test_the_default_pack_has_a_kick_snare_hat_onset_graph(default_pack: Pack) -> None:
    spec = default_pack.onsets
    assert spec is not None and spec.names == ("kick", "snare", "hat") and spec.role == "onsets"
    assert [output.name for output in spec.outputs] == ["onsets"]
    assert len(_variants(default_pack)) == 4  # onnx and litert, fp32 and int8, all importable here


@pytest.mark.parametrize("variant", [("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32"), ("litert", "int8")])
def test_onset_probabilities_stream_like_offline_on_every_artifact(
    default_pack: Pack, example_samples: np.ndarray, variant: tuple[str, str]
) -> None:
    magnitude = magnitude_frames(example_samples[: SECOND * 4])
    runner = open_runner(default_pack, default_pack.onsets, *variant)  # type: ignore[arg-type]
    onsets = assert_streaming_equals_offline(
        lambda: OnsetStage(runner), magnitude, seed=3, n_trials=2, max_block=40, atol=2e-5
    )
    assert onsets.shape == (len(magnitude), 3)
    assert np.all((onsets >= 0) & (onsets <= 1)) and onsets.max() > 0.5  # the example has drums


class _Recorder:
    """A renderer wrapper that remembers whether each block's analysis carried drum onsets."""

    def __init__(self, inner: Renderer) -> None:
        self.inner = inner
        self.seen: list[bool] = []

    def reset(self) -> None:
        self.inner.reset()

    def process(self, analysis: Analysis) -> np.ndarray:
        self.seen.append(analysis.drum_onsets is not None and analysis.onset_classes == ("kick", "snare", "hat"))
        return self.inner.process(analysis)


def test_the_pipeline_hands_the_onsets_to_the_renderer(default_pack: Pack, example_samples: np.ndarray) -> None:
    recorders: list[_Recorder] = []

    def wrap(inner: Renderer) -> Renderer:
        recorders.append(_Recorder(inner))
        return recorders[0]  # type: ignore[return-value]

    with open_session(default_pack, default_rig(), (), wrap_renderer=wrap, realtime_budget=None) as session:
        session.process(example_samples[: SECOND * 2])
        assert recorders[0].seen and all(recorders[0].seen)
        session.set_param("use_models", False)  # DSP-only: no onsets, spectral flux instead
        session.process(example_samples[SECOND * 2 : SECOND * 3])
        assert not recorders[0].seen[-1]
