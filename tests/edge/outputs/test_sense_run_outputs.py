"""``sense run`` end to end with each board output, against the fakes (I2C) and gpiozero's mock pins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from edge.buses.gpio import ENV_GPIO_BACKEND, resolve_pin_factory
from edge.cli import app
from tests.edge.outputs.conftest import Board
from edge.stream import DEVICE_STREAM

RATE_HZ = DEVICE_STREAM.sample_rate_hz


runner = CliRunner()


def sense_run(*args: str) -> None:
    result = runner.invoke(app, ["run", "--no-models", "--json", "--pace", "fast", *args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"


def test_sense_run_drives_a_pca9685_and_leaves_it_off(fake_board: Board) -> None:
    assert fake_board.wire is not None and fake_board.pca is not None
    sense_run("--output", "pca9685://1/0x40")
    duty_writes = [w for w in fake_board.wire.writes_to(0x40) if w[0] >= 0x06 and len(w) > 2 and w[0] < 0x46]
    assert len(duty_writes) > 10
    assert any(any(byte for byte in w[3::4]) for w in duty_writes)  # some OFF_L counts were non-zero
    assert fake_board.pca.duties() == [0.0] * 16 and not fake_board.pca.running


def test_sense_run_drives_the_bundled_wristband_rig_on_drv2605s_behind_the_mux(fake_board: Board) -> None:
    assert fake_board.mux is not None
    sense_run("--rig", "wristband-drv2605")
    for drv in fake_board.drvs:
        assert max(drv.rtp_history) > 0
        assert drv.rtp_drive() == 0.0 and drv.standby
    assert fake_board.mux.control == 0


def test_sense_run_drives_gpio_pwm_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_GPIO_BACKEND, "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    factory = resolve_pin_factory()
    pins = list(range(4, 20))
    for pin in pins:
        factory.pin(pin).clear_states()
    sense_run("--output", "gpio://?pins=" + ",".join(map(str, pins)) + "&freq=200")
    peaks = [max(state.state for state in factory.pin(pin).states) for pin in pins]
    assert max(peaks) > 0
    assert all(factory.pin(pin).state == 0 for pin in pins)


def test_sense_run_drives_the_sensory_box_rig_into_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "box.wav"
    sense_run("--rig", "sensory-box-audio", "--output", f"audio://file?path={path}&channels=2")
    data, rate = soundfile.read(str(path), dtype="float32")
    assert rate == RATE_HZ and data.shape[1] == 2 and data.shape[0] > rate
    assert float(np.max(np.abs(data))) > 0.01
    assert float(np.max(np.abs(data[-5:]))) < 1e-3


def test_a_driver_unplugged_mid_run_ends_it_naming_the_output_with_every_other_output_zeroed(fake_board: Board) -> None:
    from edge.errors import OutputError

    unplugged = fake_board.drvs[1]
    write_chip = unplugged.write
    n_writes = 0

    def write_then_unplug(data: bytes) -> None:  # the wire to channel 1 comes loose after 100 transactions
        nonlocal n_writes
        n_writes += 1
        if n_writes == 100:
            unplugged.present = False
        write_chip(data)

    unplugged.write = write_then_unplug  # type: ignore[method-assign]
    result = runner.invoke(app, ["run", "--no-models", "--pace", "fast", "--rig", "wristband-drv2605"])
    assert result.exit_code == 1 and isinstance(result.exception, OutputError)
    message = str(result.exception)
    assert "\n" not in message
    assert message.startswith("output drv2605://1/0x5a?mux=0x70&mux_channel=1&actuator=lra: ")
    # the unplugged chip cannot be told to stop: the message says what state it may be in
    assert "no acknowledge" in message and "they may still be running: cut their power" in message
    for index, drv in enumerate(fake_board.drvs):
        if index != 1:
            assert max(drv.rtp_history) > 0  # it was driven, and is off now
            assert drv.rtp_drive() == 0.0 and drv.standby
    assert fake_board.mux is not None and fake_board.mux.control == 0
