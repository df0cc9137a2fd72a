"""The parts of I2C output URLs: ``scheme://<bus>/<address>?…`` and channel lists such as ``channels=0,1,2``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from edge.buses.i2c import BusFactory, I2CBus, check_address, open_i2c_bus
from edge.errors import ConfigError
from edge.outputs.base import OutputURL

T = TypeVar("T")


def parse_int(url: OutputURL, text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ConfigError(f"output URL {url.url!r}: {what} {text!r} is not an integer") from None


def bus_and_address(url: OutputURL, default_address: int) -> tuple[int, int]:
    """(bus number, 7-bit address) from ``scheme://<bus>/<address>``; bus defaults to 1, address to the chip's."""
    bus_number = parse_int(url, url.host, "I2C bus number") if url.host else 1
    if bus_number < 0:
        raise ConfigError(f"output URL {url.url!r}: I2C bus number must be >= 0, got {bus_number}")
    address = parse_int(url, url.path, "I2C address") if url.path else default_address
    try:
        check_address(address)
    except ConfigError as error:
        raise ConfigError(f"output URL {url.url!r}: {error}") from None
    return bus_number, address


def int_list(url: OutputURL, key: str, default: list[int]) -> list[int]:
    """Query parameter ``key`` as a comma-separated list of ints (``channels=0,1,2``), or ``default``."""
    if key not in url.query:
        return list(default)
    items = [item.strip() for item in url.query[key].split(",") if item.strip()]
    if not items:
        raise ConfigError(f"output URL {url.url!r}: parameter {key} is empty")
    return [parse_int(url, item, f"parameter {key} item") for item in items]


def fraction_param(url: OutputURL, key: str, default: float) -> float:
    """Query parameter ``key`` as a fraction in (0, 1], e.g. ``max=0.8`` (a per-output intensity cap)."""
    value = url.float_param(key, default)
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"output URL {url.url!r}: parameter {key}={value} must be within (0, 1]")
    return value


def build_on_bus(bus_number: int, bus_factory: BusFactory | None, build: Callable[[I2CBus], T]) -> T:
    """Open (or share) bus ``bus_number`` and ``build`` an output on it; if building fails, give the bus back.
    On success the output owns that use of the bus."""
    bus = open_i2c_bus(bus_number, bus_factory)
    try:
        return build(bus)
    except BaseException:
        bus.close()
        raise
