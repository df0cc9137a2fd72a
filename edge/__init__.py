"""SENSE edge runtime: sound in, touch out, on a Raspberry Pi-class board.

Importing this package needs only numpy. Inference runtimes, serial, BLE, I2C, GPIO and audio devices are
imported lazily by the modules that use them, with an error that names the extra to install.
"""

__version__ = "0.1.0"

from edge.stream import DEVICE_STREAM

DEVICE_SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
"""Every stage on the device runs at this rate, mono (an alias of ``edge.stream.DEVICE_STREAM.sample_rate_hz``)."""
