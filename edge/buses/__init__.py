"""Buses and pins between our drivers and the hardware (STYLE.md #1: device -> bus/pin -> backend).

Drivers in :mod:`edge.drivers` never import ``smbus2`` or ``gpiozero``; they take an :class:`I2CDevice` (one
reserved address on one bus, optionally behind a mux channel) or a gpiozero pin factory, passed in or resolved
once by :func:`resolve_bus_factory` / :func:`edge.buses.gpio.resolve_pin_factory`.
"""

from edge.buses.i2c import (
    BusFactory,
    I2CBus,
    I2CDevice,
    SMBusLike,
    open_i2c_bus,
    resolve_bus_factory,
)

__all__ = ["BusFactory", "I2CBus", "I2CDevice", "SMBusLike", "open_i2c_bus", "resolve_bus_factory"]
