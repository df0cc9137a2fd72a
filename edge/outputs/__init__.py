"""Actuator outputs opened by URL (STYLE.md #3): ``open_output("pca9685://1/0x40")``.

Handlers are found by scheme in :data:`edge.output_url.SCHEMES` and imported lazily, so ``sim://`` never imports
smbus2, pyserial or bleak.
"""

from __future__ import annotations

import importlib
from typing import Callable, cast

from edge.output_url import SCHEMES, OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame, RoutedOutput

__all__ = ["ActuatorOutput", "HapticFrame", "RoutedOutput", "open_output"]


def _resolve(target: str) -> Callable[[OutputURL, int | None], ActuatorOutput]:
    module_name, _, attribute_path = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        obj = getattr(obj, attribute)
    return cast(Callable[[OutputURL, "int | None"], ActuatorOutput], obj)


def open_output(url: str, n_channels: int | None = None) -> ActuatorOutput:
    """Open the output named by ``url``. ``n_channels`` is the rig's actuator count on that output, if known."""
    parsed = OutputURL.parse_known(url)
    return _resolve(SCHEMES[parsed.scheme].handler)(parsed, n_channels)
