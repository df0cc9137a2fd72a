"""SENSE edge runtime: sound in, touch out, on a Raspberry Pi-class board.

Importing this package needs only numpy. Inference runtimes, serial, BLE, I2C, GPIO and audio devices are
imported lazily by the modules that use them, with an error that names the extra to install.
"""

__version__ = "0.1.0"

DEVICE_SAMPLE_RATE_HZ = 16_000
"""Every stage on the device runs at 16 kHz mono."""
