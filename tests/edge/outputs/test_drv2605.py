"""DRV2605L + TCA9548A drivers and the ``drv2605://`` output against the register-level fakes."""

from __future__ import annotations

import numpy as np
import pytest

from edge.buses.i2c import I2CBus
from edge.drivers.drv2605 import ActuatorKind, CalibrationResult, DRV2605, DRV2605Config
from edge.drivers.tca9548a import TCA9548A
from edge.errors import ConfigError, OutputError
from edge.outputs import HapticFrame, open_output
from edge.outputs.drv2605 import DRV2605Output
from edge.sim.chips.drv2605 import FakeActuator, FakeDRV2605L
from edge.sim.chips.i2c_wire import FakeI2CWire
from edge.sim.chips.tca9548a import FakeTCA9548A
from tests.edge.outputs.conftest import Board

MUX_URL = "drv2605://1/0x5a?mux=0x70&channels=0,1,2,3"


def frame(*intensities: float) -> HapticFrame:
    return HapticFrame(t_s=0.0, intensities=np.array(intensities, dtype=np.float32))


def single_drv(actuator: FakeActuator | None = FakeActuator()) -> tuple[FakeI2CWire, FakeDRV2605L, DRV2605]:
    wire = FakeI2CWire()
    chip = wire.add(FakeDRV2605L(actuator))
    bus = I2CBus(wire.open(1), 1)
    return wire, chip, DRV2605(bus.device(0x5A, owner="t"), wait=lambda s: None)


def test_reset_restores_defaults_and_identifies_the_chip() -> None:
    _, chip, driver = single_drv()
    chip.registers[0x16] = 0x99
    assert driver.reset() == "DRV2605L"
    assert chip.registers[0x16] == 0x3E and chip.standby


def test_a_different_chip_at_0x5a_is_refused() -> None:
    wire = FakeI2CWire()
    wire.add(FakeDRV2605L(device_id=2))
    driver = DRV2605(I2CBus(wire.open(1), 1).device(0x5A, owner="t"))
    with pytest.raises(OutputError, match="device id 2, not a DRV2605L"):
        driver.reset()


def test_lra_configuration_follows_the_datasheet_formulas() -> None:
    _, chip, driver = single_drv()
    driver.reset()
    driver.configure(DRV2605Config(ActuatorKind.LRA, rated_voltage_v=2.0, overdrive_clamp_v=2.5, resonance_hz=175.0))
    assert chip.registers[0x1A] & 0x80  # N_ERM_LRA = LRA
    # V_rms = RV * 20.58 mV / sqrt(1 - (4 * 300 us + 300 us) * 175 Hz)  ->  RV = 2.0 * sqrt(0.7375) / 0.02058
    assert chip.registers[0x16] == round(2.0 * np.sqrt(0.7375) / 0.02058) == 83
    assert chip.registers[0x17] == round(2.5 / 0.02196)
    # half period 2.857 ms = DRIVE_TIME * 0.1 ms + 0.5 ms
    assert chip.registers[0x1B] & 0x1F == 24
    assert chip.registers[0x03] == 6  # LRA library
    assert chip.registers[0x1D] & 0x08  # unsigned RTP
    assert chip.standby


def test_erm_configuration_uses_open_loop_until_calibrated() -> None:
    _, chip, driver = single_drv(FakeActuator(kind="ERM"))
    driver.reset()
    config = DRV2605Config(ActuatorKind.ERM, rated_voltage_v=3.0, overdrive_clamp_v=3.6)
    driver.configure(config)
    assert not chip.registers[0x1A] & 0x80
    assert chip.registers[0x16] == round(3.0 / 0.02118)
    assert chip.registers[0x1D] & 0x20  # ERM open loop
    assert chip.registers[0x03] == 1
    driver.calibrate(config)
    assert not chip.registers[0x1D] & 0x20  # closed loop with the calibration


def test_auto_calibration_returns_the_results_and_they_apply_at_the_next_start() -> None:
    actuator = FakeActuator(kind="LRA", resonance_hz=170.0, compensation=0x0E, back_emf=0x91, back_emf_gain=3)
    _, chip, driver = single_drv(actuator)
    driver.reset()
    result = driver.calibrate(DRV2605Config(resonance_hz=170.0))
    assert (result.compensation, result.back_emf, result.back_emf_gain) == (0x0E, 0x91, 3)
    assert result.resonance_hz == pytest.approx(170.0, rel=0.01)
    assert chip.registers[0x1E] & 0x30 == 0x30  # AUTO_CAL_TIME 1000 ms
    assert chip.standby and chip.n_calibrations == 1
    stored = CalibrationResult.from_dict(result.to_dict())
    assert CalibrationResult.from_text(result.to_text()) == CalibrationResult(0x0E, 0x91, 3)
    driver.reset()
    assert chip.registers[0x18] == 0x0C  # reset value
    driver.configure(DRV2605Config(resonance_hz=170.0), stored)
    assert (chip.registers[0x18], chip.registers[0x19], chip.registers[0x1A] & 0x03) == (0x0E, 0x91, 3)
    assert chip.n_calibrations == 1


@pytest.mark.parametrize(("actuator", "kind"), [(None, ActuatorKind.LRA), (FakeActuator(kind="ERM"), ActuatorKind.LRA)])
def test_a_failed_calibration_says_what_to_check(actuator: FakeActuator | None, kind: ActuatorKind) -> None:
    _, chip, driver = single_drv(actuator)
    driver.reset()
    with pytest.raises(OutputError, match=r"auto-calibration failed \(DIAG_RESULT = 1\).*LRA is connected"):
        driver.calibrate(DRV2605Config(kind))
    assert chip.standby


def test_library_effects_play_in_internal_trigger_mode_and_rtp_resumes() -> None:
    _, chip, driver = single_drv()
    driver.reset()
    driver.configure(DRV2605Config())
    driver.set_rtp(100)
    driver.play_effect(47)
    assert chip.played_effects == [[47]] and chip.mode == 0
    driver.set_rtp(100)
    assert chip.mode == 5 and chip.rtp_drive() == pytest.approx(100 / 255)
    with pytest.raises(ConfigError, match="outside 1..123"):
        driver.play_effect(124)


def test_the_mux_is_written_only_when_the_channel_changes() -> None:
    wire = FakeI2CWire()
    mux_chip = wire.add(FakeTCA9548A(0x71))
    bus = I2CBus(wire.open(1), 1)
    mux = TCA9548A(bus.device(0x71, owner="t"))
    for channel in (2, 2, 5, 5, 5, 2):
        mux.select(channel)
    assert mux_chip.n_control_writes == 3 and mux.read_control() == 1 << 2
    with pytest.raises(ConfigError, match="outside 0..7"):
        mux.select(8)
    with pytest.raises(ConfigError, match="0x70..0x77"):
        TCA9548A(bus.device(0x40, owner="t"))


def test_rtp_levels_reach_the_driver_behind_each_mux_channel(board: Board) -> None:
    url = f"drv2605://{board.bus_number}/0x5a?mux=0x70&channels=0" + (",1,2,3" if board.is_fake else "")
    with open_output(url) as output:
        assert isinstance(output, DRV2605Output)
        levels = [0.2, 1.0, 0.0, 0.5][: output.n_channels]
        output.write(frame(*levels))
        for driver, level in zip(output.drivers, levels):
            assert driver.device.read_register(0x02) == round(level * 255)
            assert driver.device.read_register(0x01) == 5
        if board.is_fake:
            assert [drv.rtp_drive() for drv in board.drvs] == pytest.approx(levels, abs=1 / 255)
    for drv in board.drvs:
        assert drv.rtp_drive() == 0.0 and drv.standby and drv.registers[0x02] == 0
    if board.mux is not None:
        assert board.mux.control == 0


def test_unchanged_levels_cost_no_bus_traffic_and_one_change_costs_one_write(fake_board: Board) -> None:
    assert fake_board.wire is not None and fake_board.mux is not None
    with open_output(MUX_URL) as output:
        output.write(frame(0.1, 0.2, 0.3, 0.4))
        fake_board.wire.reset_counters()
        output.write(frame(0.1, 0.2, 0.3, 0.4))
        assert fake_board.wire.n_transactions == 0
        output.write(frame(0.1, 0.2, 0.8, 0.4))
        assert [(t.address, t.written) for t in fake_board.wire.log] == [
            (0x70, bytes([1 << 2])),
            (0x5A, bytes([0x02, 204])),
        ]


def test_the_calibrate_option_stores_results_per_channel(fake_board: Board) -> None:
    fake_board.drvs[1].actuator = FakeActuator(compensation=0x11, back_emf=0x77, back_emf_gain=1)
    with open_output(MUX_URL + "&calibrate=1") as output:
        assert isinstance(output, DRV2605Output)
        assert [c.compensation if c else None for c in output.calibrations] == [0x0D, 0x11, 0x0D, 0x0D]
        cal = ",".join(c.to_text() for c in output.calibrations if c)
    with open_output(MUX_URL + "&cal=" + cal) as output:
        assert [drv.registers[0x19] for drv in fake_board.drvs] == [0x8A, 0x77, 0x8A, 0x8A]
    assert [drv.n_calibrations for drv in fake_board.drvs] == [1, 1, 1, 1]


def test_a_missing_driver_behind_the_mux_fails_at_open_naming_the_channel(fake_board: Board) -> None:
    fake_board.drvs[2].present = False
    with pytest.raises(OutputError, match=r"address 0x5a behind mux 0x70 channel 2 .*no acknowledge"):
        open_output(MUX_URL)
    assert all(drv.rtp_drive() == 0.0 for drv in fake_board.drvs)


def test_a_persistent_error_mid_run_zeroes_every_reachable_channel(fake_board: Board) -> None:
    assert fake_board.wire is not None
    with open_output(MUX_URL) as output:
        output.write(frame(0.5, 0.6, 0.7, 0.8))
        fake_board.drvs[1].present = False  # unplugged mid-run
        with pytest.raises(OutputError, match=r"channel 1 .*switching the actuators off failed too"):
            output.write(frame(0.5, 0.5, 0.7, 0.8))
        assert [fake_board.drvs[i].rtp_drive() for i in (0, 2, 3)] == [0.0, 0.0, 0.0]
        fake_board.drvs[1].present = True
    assert all(drv.rtp_drive() == 0.0 for drv in fake_board.drvs)


def test_a_transient_error_on_the_mux_is_retried_and_reselects(fake_board: Board) -> None:
    assert fake_board.wire is not None
    with open_output(MUX_URL) as output:
        output.write(frame(0.5, 0.5, 0.5, 0.5))
        fake_board.wire.fail_next(1)
        output.write(frame(0.5, 0.5, 0.5, 1.0))
        assert fake_board.drvs[3].rtp_drive() == 1.0


def test_a_pca9685_with_all_call_on_collides_with_the_mux_until_its_driver_clears_it(fake_board: Board) -> None:
    assert fake_board.pca is not None and fake_board.mux is not None
    fake_board.mux.control = 0b0101
    bus = I2CBus(fake_board.wire.open(1), 1) if fake_board.wire else None
    assert bus is not None
    probe = bus.device(0x70, owner="probe")
    assert probe.read_byte() != 0b0101  # wired-AND with the PCA9685 answering its all-call address
    with open_output("pca9685://1/0x40?channels=1"):
        assert probe.read_byte() == 0b0101


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("drv2605://1/0x5a?channels=0,1", "needs mux="),
        ("drv2605://1/0x5a?mux=0x70&channels=0,0", "repeat"),
        ("drv2605://1/0x5a?mux=0x70&channels=0,9", "outside 0..7"),
        ("drv2605://1/0x5a?mux=0x40&channels=0", "0x70..0x77"),
        ("drv2605://1/0x5a?actuator=piezo", "expected 'lra' or 'erm'"),
        ("drv2605://1/0x5a?rated_v=9", "rated voltage 9.0 V"),
        ("drv2605://1/0x5a?mux=0x70&channels=0,1&cal=1-2-3", "1 entries for 2 channels"),
        ("drv2605://1/0x5a?cal=1-2-9", "back_emf_gain 0..3"),
        ("drv2605://1/0x5a?actuator=lra&library=2", "needs effect library 6"),
    ],
)
def test_bad_urls_fail_with_a_clear_error(fake_board: Board, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_output(url)


def test_a_direct_driver_without_mux(fake_board: Board) -> None:
    assert fake_board.wire is not None
    direct = FakeDRV2605L()
    wire = FakeI2CWire()
    wire.add(direct)
    with DRV2605Output(I2CBus(wire.open(2), 2), config=DRV2605Config()) as output:
        output.write(frame(0.4))
        assert direct.rtp_drive() == pytest.approx(0.4, abs=1 / 255)
        output.play_effect(0, 1)
        assert direct.played_effects == [[1]]
    assert direct.rtp_drive() == 0.0 and direct.standby


def test_outputs_behind_one_mux_share_it_and_its_channel_cache(fake_board: Board) -> None:
    assert fake_board.mux is not None
    first = open_output("drv2605://1/0x5a?mux=0x70&mux_channel=0")
    second = open_output("drv2605://1/0x5a?mux=0x70&mux_channel=3")
    assert isinstance(first, DRV2605Output) and isinstance(second, DRV2605Output)
    assert first.mux is second.mux
    with pytest.raises(ConfigError, match="behind mux 0x70 channel 3 is already used"):
        open_output("drv2605://1/0x5a?mux=0x70&mux_channel=3")
    first.write(frame(0.5))
    second.write(frame(1.0))
    assert [drv.rtp_drive() for drv in fake_board.drvs] == pytest.approx([0.5, 0.0, 0.0, 1.0], abs=1 / 255)
    first.close()
    second.write(frame(0.2))
    assert fake_board.drvs[3].rtp_drive() == pytest.approx(0.2, abs=1 / 255)
    assert fake_board.mux.control == 1 << 3
    second.close()
    assert fake_board.mux.control == 0


def test_zero_puts_every_driver_in_standby_and_the_next_frame_resumes(fake_board: Board) -> None:
    with open_output(MUX_URL) as output:
        output.write(frame(0.3, 0.3, 0.3, 0.3))
        output.zero()
        assert all(drv.standby and drv.rtp_drive() == 0.0 for drv in fake_board.drvs)
        output.write(frame(0.3, 0.0, 0.0, 0.0))
        assert fake_board.drvs[0].rtp_drive() == pytest.approx(0.3, abs=1 / 255) and fake_board.drvs[0].mode == 5


def test_calibration_at_open_gives_results_that_fit_the_registers(board: Board) -> None:
    with open_output(f"drv2605://{board.bus_number}/0x5a?mux=0x70&mux_channel=0&calibrate=1") as output:
        assert isinstance(output, DRV2605Output)
        (result,) = output.calibrations
        assert result is not None
        assert 0 <= result.compensation <= 255 and 0 <= result.back_emf <= 255 and 0 <= result.back_emf_gain <= 3
        assert result.resonance_hz is not None and 50 < result.resonance_hz < 400
        driver = output.drivers[0]
        assert driver.device.read_register(0x18) == result.compensation
        assert driver.device.read_register(0x19) == result.back_emf
        output.write(frame(0.5))
        assert driver.device.read_register(0x02) == 128
