"""Actuator outputs opened by URL (STYLE.md #3): ``open_output("pca9685://1/0x40")``.

Handlers are found by scheme and imported lazily, so ``sim://`` never imports smbus2, pyserial or bleak.
To add a scheme, add one line to ``_HANDLERS``: ``"scheme": "module.path:callable"`` where the callable takes
``(url: OutputURL, n_channels: int | None)`` and returns an :class:`ActuatorOutput`.
"""

from __future__ import annotations

import importlib
from typing import Callable

from edge.errors import ConfigError
from edge.outputs.base import ActuatorOutput, HapticFrame, OutputURL, RoutedOutput

__all__ = ["ActuatorOutput", "HapticFrame", "OutputURL", "RoutedOutput", "open_output", "known_schemes"]

_HANDLERS: dict[str, str] = {
    "sim": "edge.outputs.sim:SimOutput.from_url",
    "pca9685": "edge.outputs.pca9685:PCA9685Output.from_url",
    "drv2605": "edge.outputs.drv2605:DRV2605Output.from_url",
    "gpio": "edge.outputs.gpio:GpioOutput.from_url",
    "audio": "edge.outputs.audio:AudioOutput.from_url",
    "serial": "edge.outputs.firmware:FirmwareOutput.from_url",
    "loop": "edge.outputs.firmware:FirmwareOutput.from_url",
    "spy": "edge.outputs.firmware:FirmwareOutput.from_url",
    "ble": "edge.outputs.firmware:FirmwareOutput.from_url",
}


def known_schemes() -> list[str]:
    return sorted(_HANDLERS)


def _resolve(target: str) -> Callable[[OutputURL, int | None], ActuatorOutput]:
    module_name, _, attribute_path = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        obj = getattr(obj, attribute)
    return obj  # type: ignore[return-value]


def open_output(url: str, n_channels: int | None = None) -> ActuatorOutput:
    """Open the output named by ``url``. ``n_channels`` is the rig's actuator count on that output, if known."""
    parsed = OutputURL.parse(url)
    if parsed.scheme not in _HANDLERS:
        raise ConfigError(f"output URL {url!r}: unknown scheme {parsed.scheme!r}; known: {', '.join(known_schemes())}")
    return _resolve(_HANDLERS[parsed.scheme])(parsed, n_channels)
