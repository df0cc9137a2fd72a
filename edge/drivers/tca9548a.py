"""TI TCA9548A: 8-channel I2C switch (datasheet SCPS207G).

One control register, written and read with a plain byte (no register address): bit n connects downstream
channel n. We connect exactly one channel at a time and cache which, so the mux is written only when the
channel changes (an extra 2 bytes on the bus when it does). Any failed transaction behind the mux forgets the
cache, so the retry selects the channel again.
"""

from __future__ import annotations

from edge.buses.i2c import I2CBus, I2CDevice
from edge.errors import ConfigError, OutputError

DEFAULT_ADDRESS = 0x70
ADDRESS_RANGE = range(0x70, 0x78)
N_CHANNELS = 8
NO_CHANNEL = 0x00


def open_shared_mux(bus: I2CBus, address: int = DEFAULT_ADDRESS) -> "TCA9548A":
    """The TCA9548A at ``address`` on ``bus``, shared by every output behind it (one channel cache for all).
    Pair with :func:`close_shared_mux`."""
    return bus.share(
        f"tca9548a@0x{address:02x}", lambda: TCA9548A(bus.device(address, owner=f"TCA9548A mux 0x{address:02x}"))
    )


def close_shared_mux(bus: I2CBus, address: int) -> None:
    """Drop one user of the shared mux; the last one disconnects every channel and releases the address."""

    def release(mux: "TCA9548A") -> None:
        try:
            mux.disconnect_all()
        except OutputError:
            pass  # the devices behind it were already zeroed by their outputs; release anyway
        finally:
            mux.device.close()

    bus.unshare(f"tca9548a@0x{address:02x}", release)


class TCA9548A:
    def __init__(self, device: I2CDevice) -> None:
        if device.address not in ADDRESS_RANGE:
            raise ConfigError(f"TCA9548A address 0x{device.address:02x} is outside 0x70..0x77 (set by its A2..A0 pins)")
        self.device = device
        self._control: int | None = None  # None = unknown: write on next select
        self.n_control_writes = 0

    @property
    def address(self) -> int:
        return self.device.address

    def select(self, channel: int) -> None:
        """Connect downstream ``channel`` (0..7) only; writes the mux only if another channel was selected."""
        if not 0 <= channel < N_CHANNELS:
            raise ConfigError(f"TCA9548A channel {channel} is outside 0..{N_CHANNELS - 1}")
        self._set_control(1 << channel)

    def disconnect_all(self) -> None:
        """Connect no downstream channel."""
        self._set_control(NO_CHANNEL)

    def _set_control(self, control: int) -> None:
        if self._control == control:
            return
        self._control = None
        self.device.write_byte(control)
        self.n_control_writes += 1
        self._control = control

    def forget_selection(self) -> None:
        """Forget the cached channel (after a bus error the mux state is not known)."""
        self._control = None

    def read_control(self) -> int:
        """The control register as the chip reports it."""
        return self.device.read_byte()

    def channel_device(self, channel: int, address: int, owner: str) -> I2CDevice:
        """Reserve ``address`` behind ``channel``: every transaction selects the channel first."""
        if not 0 <= channel < N_CHANNELS:
            raise ConfigError(f"TCA9548A 0x{self.address:02x}: channel {channel} is outside 0..{N_CHANNELS - 1}")
        return self.device.bus.device(
            address,
            owner,
            segment=(self.address, channel),
            select=lambda: self.select(channel),
            on_error=self.forget_selection,
        )
