"""PCA9685 driver and ``pca9685://`` output against the register-level fake (or a real chip with --i2c-bus)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.buses.i2c import I2CBus, open_i2c_bus
from edge.drivers.pca9685 import PCA9685, frequency_limits_hz, prescale_for
from edge.errors import ConfigError, OutputError
from edge.outputs import HapticFrame, open_output
from edge.outputs.pca9685 import PCA9685Output
from edge.sim.chips.i2c_wire import FakeI2CWire
from edge.sim.chips.pca9685 import FakePCA9685
from tests.edge.outputs.conftest import Board

PWM_STEPS = 4096


def frame(*intensities: float) -> HapticFrame:
    return HapticFrame(t_s=0.0, intensities=np.array(intensities, dtype=np.float32))


def fake_pca() -> tuple[FakeI2CWire, FakePCA9685, I2CBus]:
    wire = FakeI2CWire()
    chip = wire.add(FakePCA9685(0x40))
    return wire, chip, I2CBus(wire.open(1), 1)


@pytest.mark.parametrize(("frequency_hz", "prescale"), [(200, 0x1E), (1526, 3), (24, 253), (23.85, 255), (1000, 5)])
def test_prescale_follows_the_datasheet_formula(frequency_hz: float, prescale: int) -> None:
    assert prescale_for(frequency_hz) == prescale


@pytest.mark.parametrize("frequency_hz", [10.0, 2000.0, 0.0, -5.0])
def test_frequencies_the_chip_cannot_make_are_refused(frequency_hz: float) -> None:
    low, high = frequency_limits_hz()
    assert 23 < low < 24 and 1525 < high < 1526
    with pytest.raises(ConfigError, match="outside 24..1526 Hz"):
        prescale_for(frequency_hz)


def test_configure_sets_frequency_wakes_clears_all_call_and_switches_everything_off() -> None:
    wire, chip, bus = fake_pca()
    assert 0x70 in chip.addresses()  # all-call answers at power-on
    driver = PCA9685(bus.device(0x40, owner="t"))
    actual_hz = driver.configure(200.0)
    assert chip.frequency_hz() == pytest.approx(actual_hz) == pytest.approx(196.89, abs=0.01)
    assert chip.running
    assert chip.addresses() == {0x40}
    assert chip.registers[0x01] & 0x04  # totem pole
    assert chip.duties() == [0.0] * 16


def test_changing_frequency_while_running_keeps_and_restarts_the_channels() -> None:
    _, chip, bus = fake_pca()
    driver = PCA9685(bus.device(0x40, owner="t"))
    driver.configure(1000.0)
    driver.set_counts(0, [1024, 2048, 4096])
    assert driver.set_frequency(500.0) == pytest.approx(chip.frequency_hz())
    assert chip.frequency_hz() == pytest.approx(500, rel=0.02)
    assert chip.running
    assert chip.duties()[:3] == [0.25, 0.5, 1.0]


def test_sleep_stops_the_outputs_and_wake_restarts_them() -> None:
    _, chip, bus = fake_pca()
    driver = PCA9685(bus.device(0x40, owner="t"))
    driver.configure(1000.0)
    driver.set_counts(4, [3000])
    driver.sleep()
    assert chip.duties()[4] == 0.0 and chip.restart_pending
    driver.wake()
    assert chip.duties()[4] == pytest.approx(3000 / PWM_STEPS)


def test_unchanged_channels_are_not_rewritten_and_runs_are_batched_eight_per_transaction() -> None:
    wire, chip, bus = fake_pca()
    driver = PCA9685(bus.device(0x40, owner="t"))
    driver.configure(1000.0)
    assert driver.set_counts(0, list(range(100, 1700, 100))) == 2
    block_writes = [w for w in wire.writes_to(0x40) if len(w) == 33]
    assert [w[0] for w in block_writes] == [0x06, 0x06 + 32]
    assert driver.set_counts(0, list(range(100, 1700, 100))) == 0
    assert driver.set_counts(0, [100, 200, 7, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 9]) == 2
    assert chip.register_duty(2) == 7 / PWM_STEPS and chip.register_duty(15) == 9 / PWM_STEPS


def test_pulses_of_neighbouring_channels_start_a_sixteenth_period_apart() -> None:
    _, chip, bus = fake_pca()
    driver = PCA9685(bus.device(0x40, owner="t"))
    driver.configure(1000.0)
    driver.set_counts(0, [3000] * 16)
    starts = [chip.counts(channel)[0] for channel in range(16)]
    assert starts == [256 * channel for channel in range(16)]
    assert chip.duties() == [3000 / PWM_STEPS] * 16  # wrapping past 4095 keeps the duty
    assert [driver.read_counts(channel) for channel in range(16)] == [3000] * 16


def test_duty_counts_outside_0_to_4096_and_channels_outside_0_to_15_are_refused() -> None:
    wire, _, bus = fake_pca()
    driver = PCA9685(bus.device(0x40, owner="t"))
    n_before = len(wire.log)
    with pytest.raises(ConfigError, match="outside 0..4096"):
        driver.set_counts(0, [4097])
    with pytest.raises(ConfigError, match="outside 0..15"):
        driver.set_counts(15, [1, 2])
    assert len(wire.log) == n_before


def test_output_duties_follow_intensities_and_read_back(board: Board) -> None:
    url = f"pca9685://{board.bus_number}/0x40?freq=1000&channels=4&max=0.5"
    with open_output(url) as output:
        assert isinstance(output, PCA9685Output)
        output.write(frame(0.0, 0.25, 1.0, 0.7))
        expected_counts = [0, 512, 2048, round(0.7 * 0.5 * PWM_STEPS)]
        assert [output.chip.read_counts(channel) for channel in range(4)] == expected_counts
        if board.pca is not None:
            assert board.pca.duties()[:4] == pytest.approx([c / PWM_STEPS for c in expected_counts])
    if board.pca is not None:
        assert board.pca.duties() == [0.0] * 16
        assert not board.pca.running  # asleep after close


def test_full_intensity_at_full_cap_is_the_full_on_bit(fake_board: Board) -> None:
    with open_output("pca9685://1/0x40?channels=2&first=14") as output:
        output.write(frame(1.0, 0.0))
        assert fake_board.pca is not None
        assert fake_board.pca.counts(14)[2:] == (True, False)
        assert fake_board.pca.counts(15)[2:] == (False, True)


@pytest.mark.parametrize("bad", [1.01, -0.1, float("nan")])
def test_values_outside_the_limits_are_refused_and_nothing_is_written(fake_board: Board, bad: float) -> None:
    assert fake_board.wire is not None
    with open_output("pca9685://1/0x40?channels=2") as output:
        output.write(frame(0.5, 0.5))
        n_before = len(fake_board.wire.log)
        with pytest.raises(ConfigError, match="within \\[0, 1\\]"):
            output.write(frame(bad, 0.5))
        assert len(fake_board.wire.log) == n_before


def test_close_zeroes_is_idempotent_and_releases_the_address(fake_board: Board) -> None:
    assert fake_board.pca is not None
    output = open_output("pca9685://1/0x40")
    output.write(frame(*[0.5] * 16))
    with pytest.raises(ConfigError, match="already used by pca9685://1/0x40"):
        open_output("pca9685://1/0x40?freq=200")
    output.close()
    output.close()
    assert fake_board.pca.duties() == [0.0] * 16
    with pytest.raises(ConfigError, match="closed"):
        output.write(frame(*[0.5] * 16))
    open_output("pca9685://1/0x40").close()


def test_a_transient_bus_error_is_retried_and_the_frame_lands(fake_board: Board) -> None:
    assert fake_board.wire is not None and fake_board.pca is not None
    with open_output("pca9685://1/0x40?channels=3") as output:
        fake_board.wire.fail_next(2)
        output.write(frame(0.5, 0.5, 0.5))
        assert fake_board.pca.duties()[:3] == [0.5, 0.5, 0.5]


def test_a_persistent_bus_error_switches_everything_off_and_raises(fake_board: Board) -> None:
    assert fake_board.wire is not None and fake_board.pca is not None
    with open_output("pca9685://1/0x40?channels=3") as output:
        output.write(frame(0.5, 0.9, 0.1))
        fake_board.wire.fail_next(3)
        with pytest.raises(OutputError, match=r"pca9685://1/0x40\?channels=3: .*failed after 3 attempts.*switched off"):
            output.write(frame(0.6, 0.9, 0.1))
        assert fake_board.pca.duties() == [0.0] * 16
        output.write(frame(0.2, 0.2, 0.2))  # the cache was invalidated: every channel is written again
        assert fake_board.pca.duties()[:3] == pytest.approx([0.2] * 3, abs=1 / PWM_STEPS)


def test_when_zeroing_fails_too_the_error_says_the_motors_may_still_run(fake_board: Board) -> None:
    assert fake_board.wire is not None
    output = open_output("pca9685://1/0x40?channels=1")
    output.write(frame(0.5))
    fake_board.wire.fail_next(1000)
    with pytest.raises(OutputError, match="may still be running: cut their power"):
        output.write(frame(0.6))
    fake_board.wire.fail_next(0)
    output.close()


def test_an_absent_chip_fails_at_open_and_frees_the_bus(fake_board: Board) -> None:
    with pytest.raises(OutputError, match=r"address 0x41 .*no acknowledge"):
        open_output("pca9685://1/0x41")
    open_output("pca9685://1/0x40").close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pca9685://1/0x90", "7-bit address"),
        ("pca9685://x/0x40", "bus number 'x' is not an integer"),
        ("pca9685://1/0x40?channels=17", "do not fit"),
        ("pca9685://1/0x40?first=12&channels=8", "do not fit"),
        ("pca9685://1/0x40?max=1.5", "within \\(0, 1\\]"),
        ("pca9685://1/0x40?freq=5000", "outside 24..1526 Hz"),
        ("pca9685://7/0x40", "i2c-7"),
    ],
)
def test_bad_urls_fail_with_a_clear_error(fake_board: Board, url: str, message: str) -> None:
    with pytest.raises((ConfigError, OSError), match=message):
        open_output(url)


def test_two_chips_on_one_bus_share_it(fake_board: Board) -> None:
    assert fake_board.wire is not None
    second = fake_board.wire.add(FakePCA9685(0x41))
    with open_output("pca9685://1/0x40?channels=1") as a, open_output("pca9685://1/0x41?channels=1") as b:
        bus = open_i2c_bus(1)
        assert set(bus.reservations().values()) == {a.url, b.url}
        bus.close()
        b.write(frame(1.0))
        assert second.duties()[0] == 1.0


def test_frequency_change_while_running_reads_back_from_the_chip(board: Board) -> None:
    with open_output(f"pca9685://{board.bus_number}/0x40?channels=3&freq=1000") as output:
        assert isinstance(output, PCA9685Output)
        output.write(frame(0.25, 0.5, 1.0))
        actual_hz = output.chip.set_frequency(500.0)
        assert output.chip.frequency_hz() == pytest.approx(actual_hz) == pytest.approx(500, rel=0.02)
        mode1 = output.chip.device.read_register(0x00)
        assert not mode1 & 0x10 and not mode1 & 0x80 and mode1 & 0x20  # awake, restarted, auto-increment
        assert [output.chip.read_counts(channel) for channel in range(3)] == [1024, 2048, 4096]
        if board.pca is not None:
            assert board.pca.duties()[:3] == [0.25, 0.5, 1.0]
