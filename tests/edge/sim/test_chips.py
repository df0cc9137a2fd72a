"""The fakes are as strict as the datasheets: a driver that skips a required step must fail against them.

(These check the far side of the link itself, so a lenient fake cannot hide a driver bug.)
"""

from __future__ import annotations

import errno

import pytest

from edge.sim.chips.drv2605 import FakeDRV2605L
from edge.sim.chips.i2c_wire import FakeI2CWire
from edge.sim.chips.pca9685 import FakePCA9685
from edge.sim.chips.tca9548a import FakeTCA9548A


def test_pca9685_ignores_prescale_while_awake_and_needs_restart_after_sleep() -> None:
    wire = FakeI2CWire()
    chip = wire.add(FakePCA9685())
    bus = wire.open()
    bus.write_byte_data(0x40, 0x00, 0x20)  # awake, AI
    bus.write_byte_data(0x40, 0xFE, 10)
    assert chip.registers[0xFE] == 0x1E  # blocked: SLEEP was 0
    bus.write_i2c_block_data(0x40, 0x06, [0, 0, 0, 8])  # channel 0 at 50 %
    assert chip.duty(0) == 0.5
    bus.write_byte_data(0x40, 0x00, 0x30)  # sleep
    bus.write_byte_data(0x40, 0x00, 0x20)  # wake without RESTART
    assert chip.duty(0) == 0.0 and bus.read_byte_data(0x40, 0x00) & 0x80
    bus.write_byte_data(0x40, 0x00, 0xA0)  # RESTART
    assert chip.duty(0) == 0.5 and not bus.read_byte_data(0x40, 0x00) & 0x80


def test_pca9685_without_auto_increment_writes_every_byte_to_one_register() -> None:
    wire = FakeI2CWire()
    chip = wire.add(FakePCA9685())
    bus = wire.open()
    bus.write_byte_data(0x40, 0x00, 0x00)  # awake, AI off
    bus.write_i2c_block_data(0x40, 0x06, [1, 2, 3, 4])
    assert list(chip.registers[0x06:0x0A]) == [4, 0, 0, 0x10]
    assert bus.read_byte_data(0x40, 0xFD) == 0  # ALL_LED registers read back as 0


def test_drv2605l_ignores_go_in_standby_and_nacks_when_unplugged() -> None:
    wire = FakeI2CWire()
    chip = wire.add(FakeDRV2605L())
    bus = wire.open()
    bus.write_byte_data(0x5A, 0x04, 1)
    bus.write_byte_data(0x5A, 0x0C, 1)  # GO while in standby (reset state)
    assert chip.played_effects == []
    chip.present = False
    with pytest.raises(OSError) as caught:
        bus.read_byte_data(0x5A, 0x00)
    assert caught.value.errno == errno.EREMOTEIO


def test_tca9548a_routes_only_to_enabled_channels_and_reads_are_wired_and() -> None:
    wire = FakeI2CWire()
    mux = wire.add(FakeTCA9548A())
    first = mux.channels[0].add(FakeDRV2605L())
    second = mux.channels[1].add(FakeDRV2605L())
    bus = wire.open()
    with pytest.raises(OSError):
        bus.read_byte_data(0x5A, 0x00)
    bus.write_byte(0x70, 0b11)
    bus.write_byte_data(0x5A, 0x16, 0x50)  # both receive the write
    assert first.registers[0x16] == second.registers[0x16] == 0x50
    first.registers[0x17], second.registers[0x17] = 0b1100, 0b1010
    assert bus.read_byte_data(0x5A, 0x17) == 0b1000


def test_bus_timing_counts_start_address_data_ack_and_stop() -> None:
    wire = FakeI2CWire(clock_hz=100_000)
    wire.add(FakePCA9685())
    bus = wire.open()
    bus.write_byte_data(0x40, 0x01, 0x04)  # S + 3 bytes x 9 bits + P = 29 bits
    assert wire.n_bytes == 3 and wire.bus_time_s == pytest.approx(29 / 100_000)
    bus.read_byte_data(0x40, 0x01)  # S + addr + reg + Sr + addr + data + P = 2 + 4 x 9 + 1 = 39 bits
    assert wire.n_bytes == 7 and wire.bus_time_s == pytest.approx((29 + 39) / 100_000)
    with pytest.raises(OSError):
        bus.write_quick(0x41)  # a NACKed address still costs its byte on the wire
    assert wire.n_bytes == 8
