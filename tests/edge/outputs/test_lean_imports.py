"""The board outputs import their hardware libraries lazily: without smbus2, gpiozero and sounddevice the
modules still import, I2C outputs run on a passed-in bus, and the real backends say which extra to install."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import sys
for blocked in ("smbus2", "gpiozero", "sounddevice", "lgpio"):
    sys.modules[blocked] = None
import numpy as np
import edge.outputs.pca9685, edge.outputs.drv2605, edge.outputs.gpio, edge.outputs.audio, edge.devices
from edge.buses.i2c import I2CBus, smbus2_bus
from edge.errors import MissingExtraError
from edge.outputs import HapticFrame, open_output
from edge.outputs.pca9685 import PCA9685Output
from edge.sim.chips.i2c_wire import FakeI2CWire
from edge.sim.chips.pca9685 import FakePCA9685

wire = FakeI2CWire()
chip = wire.add(FakePCA9685())
with PCA9685Output(I2CBus(wire.open(1), 1), n_channels=1) as output:
    output.write(HapticFrame(0.0, np.ones(1, np.float32)))
    assert chip.duty(0) == 1.0
for attempt in (lambda: smbus2_bus(1), lambda: open_output("gpio://?pins=12"), lambda: open_output("audio://default")):
    try:
        attempt()
    except MissingExtraError as error:
        print("extra:", error.extra)
for module in ("smbus2", "gpiozero", "sounddevice"):
    assert sys.modules[module] is None
"""


def test_outputs_work_without_the_hardware_libraries() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["extra: i2c", "extra: gpio", "extra: audio"]
