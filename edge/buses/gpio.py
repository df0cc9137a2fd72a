"""GPIO pins through gpiozero, with the pin factory (backend) passed in or resolved once.

We never set gpiozero's class-level ``Device.pin_factory`` (STYLE.md #1): every device gets ``pin_factory=``
explicitly. :func:`resolve_pin_factory` returns the explicit factory, else one factory per backend name made
once and shared (so pin reservations span every output in the process). The name comes from
``$SENSE_GPIO_BACKEND``, else ``$GPIOZERO_PIN_FACTORY``, else ``lgpio`` on a Raspberry Pi 5 (its RP1 chip is
only reachable through lgpio / gpiochip), else the first of lgpio, rpigpio, pigpio, native that loads.
For tests: ``SENSE_GPIO_BACKEND=mock`` with ``GPIOZERO_MOCK_PIN_CLASS=mockpwmpin``.
"""

from __future__ import annotations

import os
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from edge._lazy import require
from edge.errors import ConfigError, OutputError

ENV_GPIO_BACKEND = "SENSE_GPIO_BACKEND"
ENV_GPIOZERO_FACTORY = "GPIOZERO_PIN_FACTORY"
PREFERRED_BACKENDS = ("lgpio", "rpigpio", "pigpio", "native")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")

_FACTORIES: dict[str, Any] = {}
_FACTORIES_LOCK = threading.Lock()


def board_model(model_path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The board's model string from the device tree (e.g. 'Raspberry Pi 5 Model B Rev 1.0'), or None."""
    try:
        return model_path.read_bytes().rstrip(b"\x00").decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def is_raspberry_pi_5(model_path: Path = DEVICE_TREE_MODEL) -> bool:
    model = board_model(model_path) or ""
    return model.startswith("Raspberry Pi 5") or model.startswith("Raspberry Pi Compute Module 5")


def backend_name(model_path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The pin factory name to use, or None to try :data:`PREFERRED_BACKENDS` in order."""
    for variable in (ENV_GPIO_BACKEND, ENV_GPIOZERO_FACTORY):
        name = os.environ.get(variable, "").strip().lower()
        if name:
            return name
    return "lgpio" if is_raspberry_pi_5(model_path) else None


def make_pin_factory(name: str) -> Any:
    """Construct gpiozero's pin factory ``name`` (an entry point of group ``gpiozero_pin_factories``)."""
    require("gpiozero", "gpio", "GPIO outputs")
    factories = {entry.name: entry for entry in entry_points(group="gpiozero_pin_factories")}
    if name not in factories:
        raise ConfigError(f"GPIO backend {name!r} is unknown; gpiozero offers: {', '.join(sorted(factories))}")
    try:
        return factories[name].load()()
    except Exception as error:  # gpiozero raises many kinds here (ImportError, OSError, PinUnknownPi, ...)
        fix = {
            "lgpio": "install lgpio: 'sudo apt install python3-lgpio' or 'pip install lgpio'",
            "rpigpio": "install RPi.GPIO: 'pip install RPi.GPIO' (not on a Pi 5: use lgpio)",
            "pigpio": "start the daemon: 'sudo systemctl enable --now pigpiod'",
        }.get(name, "check that this is a Raspberry Pi and that /dev/gpiochip* is readable (group gpio)")
        raise OutputError(f"GPIO backend {name!r} cannot start: {error}. Fix: {fix}") from error


def resolve_pin_factory(factory: Any = None) -> Any:
    """``factory`` if given, else the shared factory for :func:`backend_name` (made on first use)."""
    if factory is not None:
        return factory
    name = backend_name()
    with _FACTORIES_LOCK:
        if name is not None:
            if name not in _FACTORIES:
                _FACTORIES[name] = make_pin_factory(name)
            return _FACTORIES[name]
        for candidate in PREFERRED_BACKENDS:
            if candidate in _FACTORIES:
                return _FACTORIES[candidate]
        errors = []
        for candidate in PREFERRED_BACKENDS:
            try:
                _FACTORIES[candidate] = make_pin_factory(candidate)
                return _FACTORIES[candidate]
            except OutputError as error:
                errors.append(str(error))
        raise OutputError("no GPIO backend could start:\n  " + "\n  ".join(errors))
