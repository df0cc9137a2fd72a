"""Opening a rig's outputs: which actuator drives which channel of which output.

Each output URL of the rig is opened with as many channels as actuators name it, and the returned
:class:`~edge.outputs.base.RoutedOutput` maps the renderer's actuator columns onto those channels in channel order.
Audio outputs with carrier-driven actuators get a per-channel carrier; outputs that draw the rig get its layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.haptics.spec import RigSpec
from edge.output_url import OutputURL
from edge.outputs import RoutedOutput, open_output

AUDIO_SCHEME = "audio"


def output_plan(spec: RigSpec, override_url: str | None = None) -> list[tuple[str, np.ndarray]]:
    """(url, actuator indices in channel order) per output to open; ``override_url``: one output for all actuators."""
    if override_url is not None:
        return [(override_url, np.arange(len(spec.actuators)))]
    plan = []
    for output in spec.outputs:
        members = [(a.channel, index) for index, a in enumerate(spec.actuators) if a.output == output.id]
        if members:
            plan.append((output.url, np.array([index for _, index in sorted(members)], dtype=int)))
    return plan


def open_rig_outputs(spec: RigSpec, override_url: str | None = None) -> list[RoutedOutput]:
    """Open every output of the rig (or one ``override_url`` output carrying all actuators).

    If opening one fails, the ones already open are closed (zeroed) before the error propagates.
    """
    opened: list[RoutedOutput] = []
    try:
        for url, indices in output_plan(spec, override_url):
            opened_output = open_output(url, len(indices))
            opened.append(_routed(spec, url, opened_output, indices))
            _attach_layout(spec, opened_output, indices)
    except BaseException:
        for routed in opened:
            routed.output.close()
        raise
    return opened


def _routed(spec: RigSpec, url: str, output: Any, indices: np.ndarray) -> RoutedOutput:
    """Audio outputs with carrier-driven actuators get each channel's carrier instead of the frame audio."""
    actuators = [spec.actuators[int(index)] for index in indices]
    if OutputURL.parse(url).scheme != AUDIO_SCHEME or all(a.drive != "carrier" for a in actuators):
        return RoutedOutput(output, indices)
    from edge.stream import DEVICE_STREAM
    from edge.outputs.carrier_drive import CarrierDrive, CarrierRoutedOutput

    carrier_hz = np.array([a.resonance_hz if a.drive == "carrier" else 0.0 for a in actuators])
    return CarrierRoutedOutput(output, indices, CarrierDrive(carrier_hz, DEVICE_STREAM.sample_rate_hz))


def _attach_layout(spec: RigSpec, output: Any, indices: np.ndarray) -> None:
    """Outputs that draw the rig (``sim://?view=live``) get the actuators' names and body positions."""
    set_layout = getattr(output, "set_layout", None)
    if callable(set_layout):
        set_layout([spec.actuators[int(index)] for index in indices])
