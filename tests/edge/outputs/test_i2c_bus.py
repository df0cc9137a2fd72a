"""The I2C bus layer: reservations, sharing, retries and error messages, against the fake wire."""

from __future__ import annotations

import errno

import pytest

from edge.buses.i2c import ENV_I2C_BACKEND, I2CBus, open_i2c_bus, resolve_bus_factory, smbus2_bus
from edge.errors import ConfigError, OutputError
from edge.sim.chips.i2c_wire import FakeI2CWire, FakeSMBus
from edge.sim.chips.pca9685 import FakePCA9685


def make_bus() -> tuple[FakeI2CWire, I2CBus]:
    wire = FakeI2CWire()
    wire.add(FakePCA9685(0x40))
    return wire, I2CBus(wire.open(1), 1)


def test_two_drivers_on_one_address_fail_early_naming_the_holder() -> None:
    _, bus = make_bus()
    bus.device(0x40, owner="pca9685://1/0x40")
    with pytest.raises(ConfigError, match=r"address 0x40 is already used by pca9685://1/0x40"):
        bus.device(0x40, owner="second driver")


def test_one_address_on_different_mux_channels_is_allowed_and_released_on_close() -> None:
    _, bus = make_bus()
    first = bus.device(0x5A, owner="a", segment=(0x70, 0))
    bus.device(0x5A, owner="b", segment=(0x70, 1))
    with pytest.raises(ConfigError, match="behind mux 0x70 channel 0"):
        bus.device(0x5A, owner="c", segment=(0x70, 0))
    first.close()
    first.close()
    bus.device(0x5A, owner="c", segment=(0x70, 0))


@pytest.mark.parametrize("address", [0x00, 0x02, 0x78, 0x7F, -1])
def test_reserved_addresses_are_refused(address: int) -> None:
    _, bus = make_bus()
    with pytest.raises(ConfigError, match="7-bit address"):
        bus.device(address, owner="x")


def test_open_i2c_bus_shares_one_bus_per_backend_and_number_and_closes_with_the_last_user() -> None:
    wire = FakeI2CWire()
    handles: list[FakeSMBus] = []

    def factory(bus_number: int) -> FakeSMBus:
        handles.append(wire.open(bus_number))
        return handles[-1]

    first = open_i2c_bus(3, factory)
    second = open_i2c_bus(3, factory)
    assert first is second and len(handles) == 1
    first.device(0x40, owner="one")
    with pytest.raises(ConfigError):
        second.device(0x40, owner="two")
    first.close()
    assert not handles[0].closed
    second.close()
    assert handles[0].closed and second.closed
    third = open_i2c_bus(3, factory)
    assert third is not first and len(handles) == 2
    third.close()


def test_a_transient_error_is_retried() -> None:
    wire, bus = make_bus()
    device = bus.device(0x40, owner="t")
    wire.fail_next(bus.max_attempts - 1)
    device.write_register(0x01, 0x04)
    assert [t.acked for t in wire.log] == [False] * (bus.max_attempts - 1) + [True]
    assert device.read_register(0x01) == 0x04


def test_a_persistent_error_raises_output_error_naming_bus_address_and_operation() -> None:
    wire, bus = make_bus()
    device = bus.device(0x40, owner="pca9685://1/0x40")
    wire.fail_next(bus.max_attempts, errno.EIO)
    with pytest.raises(
        OutputError,
        match=r"I2C bus 1 address 0x40 \(pca9685://1/0x40\): write 0x04 to register 0x01 "
        r"failed after 3 attempts",
    ) as caught:
        device.write_register(0x01, 0x04)
    assert isinstance(caught.value, OSError)
    assert len(wire.log) == bus.max_attempts


def test_an_absent_device_is_a_nack_with_a_hint() -> None:
    _, bus = make_bus()
    device = bus.device(0x41, owner="nobody home")
    with pytest.raises(OutputError, match=r"Errno 121.*no acknowledge: device absent"):
        device.read_register(0x00)


def test_values_outside_a_byte_and_oversized_blocks_are_refused_before_the_bus() -> None:
    wire, bus = make_bus()
    device = bus.device(0x40, owner="t")
    with pytest.raises(ConfigError, match="not a byte"):
        device.write_register(0x01, 256)
    with pytest.raises(ConfigError, match="1..32"):
        device.write_block(0x06, [0] * 33)
    assert wire.log == []


def test_the_backend_is_resolved_from_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = FakeI2CWire()
    assert resolve_bus_factory(wire.open) == wire.open
    monkeypatch.delenv(ENV_I2C_BACKEND, raising=False)
    assert resolve_bus_factory() is smbus2_bus
    monkeypatch.setenv(ENV_I2C_BACKEND, "edge.sim.chips.i2c_wire:open_installed_bus")
    from edge.sim.chips.i2c_wire import open_installed_bus

    assert resolve_bus_factory() is open_installed_bus
    monkeypatch.setenv(ENV_I2C_BACKEND, "no_such_module_here:factory")
    with pytest.raises(ConfigError, match="cannot load the bus factory"):
        resolve_bus_factory()


def test_the_real_smbus2_backend_says_how_to_enable_a_missing_bus() -> None:
    with pytest.raises(OutputError, match=r"/dev/i2c-250 does not exist.*raspi-config"):
        smbus2_bus(250)
