"""``pca9685://<bus>/<address>?freq=1000&channels=16&first=0&max=1.0`` — up to 16 motors on one PCA9685.

Intensity i of channel c becomes a duty of ``round(i * max * 4096)`` / 4096 on PWM output ``first + c``.
Writes skip unchanged channels and batch consecutive ones (8 per I2C transaction). An I2C error is retried
(:data:`edge.buses.i2c.DEFAULT_MAX_ATTEMPTS`); if it persists every channel is switched off and
:class:`~edge.errors.OutputError` is raised. ``close()`` switches everything off and puts the chip to sleep.
"""

from __future__ import annotations

import numpy as np

from edge.buses.i2c import BusFactory, I2CBus
from edge.drivers.pca9685 import COUNT_FULL_ON, DEFAULT_ADDRESS, N_CHANNELS, PCA9685
from edge.errors import ConfigError, OutputError
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.outputs.failsafe import zero_and_raise
from edge.outputs.i2c_url import build_on_bus, bus_and_address

DEFAULT_FREQUENCY_HZ = 1000.0


class PCA9685Output(ActuatorOutput):
    """``n_channels`` motors on PWM outputs ``first_channel ..`` of the PCA9685 at ``address`` on ``bus``.

    ``bus`` is shared; once constructed, this output owns one use of it and closes that use in ``close()``.
    """

    def __init__(
        self,
        bus: I2CBus,
        address: int = DEFAULT_ADDRESS,
        *,
        n_channels: int = N_CHANNELS,
        first_channel: int = 0,
        frequency_hz: float = DEFAULT_FREQUENCY_HZ,
        max_duty: float = 1.0,
        url: str | None = None,
    ) -> None:
        url = url or f"pca9685://{bus.bus_number}/0x{address:02x}"
        super().__init__(url, n_channels)
        if first_channel < 0 or first_channel + n_channels > N_CHANNELS:
            raise ConfigError(
                f"output {url!r}: channels {first_channel}..{first_channel + n_channels - 1} do not fit the "
                f"PCA9685's 0..{N_CHANNELS - 1}"
            )
        if not 0.0 < max_duty <= 1.0:
            raise ConfigError(f"output {url!r}: max duty {max_duty} must be within (0, 1]")
        self.first_channel = first_channel
        self.max_duty = max_duty
        self._bus = bus
        device = bus.device(address, owner=url)
        try:
            self.chip = PCA9685(device)
            self.frequency_hz = self.chip.configure(frequency_hz)
        except BaseException:
            device.close()
            raise

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None, bus_factory: BusFactory | None = None) -> "PCA9685Output":
        bus_number, address = bus_and_address(url, DEFAULT_ADDRESS)
        first_channel = url.int_param("first", 0)
        channels = url.int_param("channels", n_channels or N_CHANNELS - first_channel)
        if n_channels is not None and channels != n_channels:
            raise ConfigError(
                f"output URL {url.url!r}: channels={channels} but the rig puts {n_channels} actuators on it"
            )
        frequency_hz = url.float_param("freq", DEFAULT_FREQUENCY_HZ)
        max_duty = url.fraction_param("max", 1.0)
        return build_on_bus(
            bus_number,
            bus_factory,
            lambda bus: cls(
                bus,
                address,
                n_channels=channels,
                first_channel=first_channel,
                frequency_hz=frequency_hz,
                max_duty=max_duty,
                url=url.url,
            ),
        )

    def counts_for(self, intensities: np.ndarray) -> list[int]:
        """(n_channels,) intensities in [0, 1] -> duty counts 0..4096 after the ``max_duty`` cap."""
        scaled = np.rint(intensities.astype(np.float64) * self.max_duty * COUNT_FULL_ON)
        return [int(value) for value in np.clip(scaled, 0, COUNT_FULL_ON)]

    def _write(self, frame: HapticFrame) -> None:
        try:
            self.chip.set_counts(self.first_channel, self.counts_for(frame.intensities))
        except OutputError as error:
            zero_and_raise(self.url, error, self.chip.all_off)

    def _zero(self) -> None:
        self.chip.all_off()

    def _release(self) -> None:
        try:
            self.chip.sleep()
        except OutputError:
            pass  # the channels are already off (or the error was reported by _zero); release anyway
        finally:
            self.chip.device.close()
            self._bus.close()
