"""The I2C part of output URLs: ``scheme://<bus>/<address>?…`` and opening an output on a (shared) bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from edge.buses.i2c import BusFactory, I2CBus, check_address, open_i2c_bus
from edge.errors import ConfigError
from edge.output_url import OutputURL

T = TypeVar("T")


def bus_and_address(url: OutputURL, default_address: int) -> tuple[int, int]:
    """(bus number, 7-bit address) from ``scheme://<bus>/<address>``; bus defaults to 1, address to the chip's."""
    bus_number = url.parse_int(url.host, "I2C bus number") if url.host else 1
    if bus_number < 0:
        raise ConfigError(f"output URL {url.url!r}: I2C bus number must be >= 0, got {bus_number}")
    address = url.parse_int(url.path, "I2C address") if url.path else default_address
    try:
        check_address(address)
    except ConfigError as error:
        raise ConfigError(f"output URL {url.url!r}: {error}") from None
    return bus_number, address


def build_on_bus(bus_number: int, bus_factory: BusFactory | None, build: Callable[[I2CBus], T]) -> T:
    """Open (or share) bus ``bus_number`` and ``build`` an output on it; if building fails, give the bus back.
    On success the output owns that use of the bus."""
    bus = open_i2c_bus(bus_number, bus_factory)
    try:
        return build(bus)
    except BaseException:
        bus.close()
        raise
