"""Carrier drive for actuators on audio-rate outputs: each LRA at its own resonance, the real audio output
scaling it by the actuator's intensity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.outputs.carrier_drive import CarrierDrive, CarrierRoutedOutput
from edge.rig import load_rig
from tests.edge.haptics.signals import SAMPLE_RATE_HZ
from tests.streaming import assert_streaming_equals_offline
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop


def _peak_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal))
    return float(np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE_HZ)[np.argmax(spectrum)])


def test_carrier_channels_sing_at_their_resonance_and_audio_channels_pass_the_sound() -> None:
    sound = (0.3 * np.sin(2 * np.pi * 55.0 * np.arange(SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ)).astype(np.float32)
    drive = CarrierDrive(np.array([170.0, 0.0, 235.0]), SAMPLE_RATE_HZ).process(sound)
    assert drive.shape == (SAMPLE_RATE_HZ, 3) and np.abs(drive).max() <= 1.0
    assert _peak_hz(drive[:, 0]) == pytest.approx(170.0, abs=1.0)
    assert _peak_hz(drive[:, 2]) == pytest.approx(235.0, abs=1.0)
    np.testing.assert_allclose(drive[:, 1], sound)


def test_carrier_drive_streams_like_offline() -> None:
    sound = np.random.default_rng(3).uniform(-1, 1, (4000, 2)).astype(np.float32)
    assert_streaming_equals_offline(lambda: CarrierDrive(np.array([170.0, 0.0]), SAMPLE_RATE_HZ), sound, max_block=300)


def test_sensory_box_sends_carriers_through_the_real_audio_output() -> None:
    rig = load_rig("sensory-box-audio")
    routed = rig.open_outputs("audio://array")
    assert isinstance(routed[0], CarrierRoutedOutput)
    output = routed[0].output
    sound = (0.5 * np.sin(2 * np.pi * 55.0 * np.arange(1280) / SAMPLE_RATE_HZ)).astype(np.float32)
    try:
        for index in range(10):
            hop = sound[index * HOP : (index + 1) * HOP]
            routed[0].write((index + 1) * 0.008, np.array([0.4, 0.8], dtype=np.float32), hop)
        samples = np.concatenate(output.sink.blocks)
    finally:
        output.close()
    np.testing.assert_allclose(samples[:, 0], 0.4 * sound, atol=1e-6)  # the seat shaker plays the sound
    assert _peak_hz(samples[:, 1]) == pytest.approx(250.0, abs=13.0)  # the backrest its 250 Hz carrier
    assert np.abs(samples[:, 1]).max() == pytest.approx(0.8, abs=0.01)


def test_non_audio_outputs_are_not_wrapped() -> None:
    routed = load_rig("wristband-drv2605").open_outputs("sim://")
    try:
        assert not isinstance(routed[0], CarrierRoutedOutput)
    finally:
        routed[0].output.close()


def test_drive_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "box.toml"
    path.write_text(
        '[[outputs]]\nid = "s"\nurl = "audio://array"\n[[actuators]]\nid = "a"\nkind = "lra"\ndrive = "pwm"\n'
    )
    with pytest.raises(
        ConfigError, match=r"box.toml:7: actuators\[0\]\.drive: is 'pwm' \(expected one of carrier, audio\)"
    ):
        load_rig(path)


def test_session_reset_restarts_the_carrier_phase() -> None:
    from edge.session import open_session

    with open_session(None, "sensory-box-audio", "audio://array", realtime_budget=None) as session:
        carrier_routes = [routed for routed in session.outputs if isinstance(routed, CarrierRoutedOutput)]
        assert carrier_routes and carrier_routes[0].drive is not None
        session.process(np.random.default_rng(0).uniform(-0.5, 0.5, 1000).astype(np.float32))
        assert carrier_routes[0].drive._n_samples > 0
        session.reset()
        assert carrier_routes[0].drive._n_samples == 0
