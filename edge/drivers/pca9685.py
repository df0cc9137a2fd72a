"""NXP PCA9685: 16-channel, 12-bit PWM controller on I2C (datasheet Rev. 4, 16 April 2015).

What we use from the datasheet:
- PWM frequency: ``PRE_SCALE = round(25 MHz / (4096 * f)) - 1``, clamped by the chip to 3..255 (1526 Hz .. 24 Hz
  with the internal oscillator); PRE_SCALE can only be written while MODE1.SLEEP = 1.
- Wake-up: clear SLEEP, wait 500 us for the oscillator, and if MODE1.RESTART reads 1 write RESTART = 1 to
  restart the channels that were running.
- Channel n has four registers at 0x06 + 4n (ON_L, ON_H, OFF_L, OFF_H); counts are 12 bit. Bit 4 of ON_H is
  "full on", bit 4 of OFF_H "full off" (full off wins). The pulse of channel n starts at count 256 * n, so
  16 motors do not all switch on at the same instant (that would pull the motor supply in one spike).
- ALL_LED_OFF_H (0xFD) bit 4 switches every channel fully off in one transaction.
- MODE1.AI makes the register pointer auto-increment, so several channels go out in one block write (up to 8
  channels = 32 bytes, the SMBus block limit).
- MODE1.ALLCALL (set at power-on) makes the chip answer 0x70 too, which collides with a TCA9548A mux at its
  default address; we clear it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from edge.buses.i2c import SMBUS_BLOCK_MAX_BYTES, I2CDevice
from edge.errors import ConfigError

DEFAULT_ADDRESS = 0x40

MODE1 = 0x00
MODE2 = 0x01
LED0_ON_L = 0x06
REGISTERS_PER_CHANNEL = 4
ALL_LED_ON_L = 0xFA
ALL_LED_OFF_H = 0xFD
PRE_SCALE = 0xFE

MODE1_RESTART = 0x80
MODE1_AI = 0x20
MODE1_SLEEP = 0x10
MODE2_OUTDRV = 0x04  # totem-pole outputs (drive a MOSFET gate directly); 0 = open drain
FULL_BIT = 0x10
BYTE_MASK = 0xFF
COUNT_SHIFT = 8

N_CHANNELS = 16
PWM_STEPS = 4096
COUNT_FULL_ON = PWM_STEPS
"""Duty counts run 0..4095 within a period; 4096 means "full on" (no low time)."""
PHASE_STEP_COUNTS = PWM_STEPS // N_CHANNELS
"""Pulse start offset between neighbouring channels."""
OSCILLATOR_HZ = 25_000_000
PRESCALE_MIN = 3
PRESCALE_MAX = 0xFF
OSCILLATOR_SETTLE_S = 500e-6
CHANNELS_PER_BLOCK = SMBUS_BLOCK_MAX_BYTES // REGISTERS_PER_CHANNEL


def prescale_for(frequency_hz: float, oscillator_hz: float = OSCILLATOR_HZ) -> int:
    """PRE_SCALE value for ``frequency_hz``; raise :class:`ConfigError` outside what the chip can do."""
    prescale = round(oscillator_hz / (PWM_STEPS * frequency_hz)) - 1 if frequency_hz > 0 else -1
    if not PRESCALE_MIN <= prescale <= PRESCALE_MAX:
        low, high = frequency_limits_hz(oscillator_hz)
        raise ConfigError(f"PCA9685 PWM frequency {frequency_hz} Hz is outside {low:.0f}..{high:.0f} Hz")
    return prescale


def frequency_limits_hz(oscillator_hz: float = OSCILLATOR_HZ) -> tuple[float, float]:
    """(lowest, highest) PWM frequency in Hz."""
    return (
        oscillator_hz / (PWM_STEPS * (PRESCALE_MAX + 1)),
        oscillator_hz / (PWM_STEPS * (PRESCALE_MIN + 1)),
    )


def frequency_of(prescale: int, oscillator_hz: float = OSCILLATOR_HZ) -> float:
    return oscillator_hz / (PWM_STEPS * (prescale + 1))


def channel_registers(channel: int, counts: int) -> list[int]:
    """The four register bytes (ON_L, ON_H, OFF_L, OFF_H) of ``channel`` for a duty of ``counts``/4096, the
    pulse starting at the channel's phase offset."""
    if counts == 0:
        return [0, 0, 0, FULL_BIT]
    if counts == COUNT_FULL_ON:
        return [0, FULL_BIT, 0, 0]
    on = (channel * PHASE_STEP_COUNTS) % PWM_STEPS
    off = (on + counts) % PWM_STEPS
    return [on & BYTE_MASK, on >> COUNT_SHIFT, off & BYTE_MASK, off >> COUNT_SHIFT]


class PCA9685:
    """Driver of one PCA9685. ``counts`` per channel are 0..4096 (4096 = full on); writes skip unchanged channels."""

    def __init__(
        self,
        device: I2CDevice,
        *,
        oscillator_hz: float = OSCILLATOR_HZ,
        totem_pole: bool = True,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self.device = device
        self.oscillator_hz = oscillator_hz
        self.totem_pole = totem_pole
        self._wait = wait
        self._counts: list[int | None] = [None] * N_CHANNELS  # None = unknown, write next time

    def configure(self, frequency_hz: float) -> float:
        """Put the chip into a known state: all channels off, auto-increment, no all-call, ``frequency_hz``.

        Returns the frequency the chip really runs at (the prescaler is an integer).
        """
        prescale = prescale_for(frequency_hz, self.oscillator_hz)
        self.device.write_register(MODE1, MODE1_SLEEP | MODE1_AI)  # sleep; clears ALLCALL and SUBx
        self.device.write_register(PRE_SCALE, prescale)
        self.device.write_register(MODE2, MODE2_OUTDRV if self.totem_pole else 0)
        self.all_off()
        self._wake(MODE1_AI)
        return frequency_of(prescale, self.oscillator_hz)

    def set_frequency(self, frequency_hz: float) -> float:
        """Change the PWM frequency (sleep, PRE_SCALE, wake, restart) keeping the channel states."""
        prescale = prescale_for(frequency_hz, self.oscillator_hz)
        mode1 = self.device.read_register(MODE1) & ~MODE1_RESTART & BYTE_MASK
        self.device.write_register(MODE1, mode1 | MODE1_SLEEP)
        self.device.write_register(PRE_SCALE, prescale)
        self._wake(mode1 & ~MODE1_SLEEP & BYTE_MASK)
        return frequency_of(prescale, self.oscillator_hz)

    def frequency_hz(self) -> float:
        """The frequency the chip's PRE_SCALE register holds."""
        return frequency_of(self.device.read_register(PRE_SCALE), self.oscillator_hz)

    def _wake(self, mode1_awake: int) -> None:
        self.device.write_register(MODE1, mode1_awake)
        self._wait(OSCILLATOR_SETTLE_S)
        if self.device.read_register(MODE1) & MODE1_RESTART:
            self.device.write_register(MODE1, mode1_awake | MODE1_RESTART)

    def sleep(self) -> None:
        """Stop the oscillator (all outputs off, registers kept)."""
        mode1 = self.device.read_register(MODE1) & ~MODE1_RESTART & BYTE_MASK
        self.device.write_register(MODE1, mode1 | MODE1_SLEEP)

    def wake(self) -> None:
        """Restart the oscillator and the channels that were running before :meth:`sleep`."""
        mode1 = self.device.read_register(MODE1) & ~(MODE1_RESTART | MODE1_SLEEP) & BYTE_MASK
        self._wake(mode1)

    def set_counts(self, first_channel: int, counts: Sequence[int]) -> int:
        """Set channels ``first_channel ..`` to ``counts`` (each 0..4096). Only changed channels are written, as
        few block writes as possible. Returns the number of bus transactions used."""
        if first_channel < 0 or first_channel + len(counts) > N_CHANNELS:
            raise ConfigError(
                f"PCA9685 channels {first_channel}..{first_channel + len(counts) - 1} are outside 0..{N_CHANNELS - 1}"
            )
        for offset, value in enumerate(counts):
            if not isinstance(value, int) or not 0 <= value <= COUNT_FULL_ON:
                raise ConfigError(
                    f"PCA9685 channel {first_channel + offset}: duty count {value!r} is outside 0..{COUNT_FULL_ON}"
                )
        changed = [first_channel + i for i, value in enumerate(counts) if self._counts[first_channel + i] != value]
        n_transactions = 0
        for run_start, run_length in _runs(changed, CHANNELS_PER_BLOCK):
            data: list[int] = []
            for channel in range(run_start, run_start + run_length):
                data.extend(channel_registers(channel, counts[channel - first_channel]))
            self._forget(run_start, run_length)  # if the write fails, the chip state is unknown
            self.device.write_block(LED0_ON_L + REGISTERS_PER_CHANNEL * run_start, data)
            for channel in range(run_start, run_start + run_length):
                self._counts[channel] = counts[channel - first_channel]
            n_transactions += 1
        return n_transactions

    def all_off(self) -> None:
        """Every channel fully off in one transaction (ALL_LED_OFF_H full-off bit)."""
        self._forget(0, N_CHANNELS)
        self.device.write_register(ALL_LED_OFF_H, FULL_BIT)
        self._counts = [0] * N_CHANNELS

    def _forget(self, first_channel: int, n_channels: int) -> None:
        for channel in range(first_channel, first_channel + n_channels):
            self._counts[channel] = None

    def read_counts(self, channel: int) -> int:
        """Duty of ``channel`` read back from the chip, as counts 0..4096."""
        on_l, on_h, off_l, off_h = self.device.read_block(
            LED0_ON_L + REGISTERS_PER_CHANNEL * channel, REGISTERS_PER_CHANNEL
        )
        if off_h & FULL_BIT:
            return 0
        if on_h & FULL_BIT:
            return COUNT_FULL_ON
        on = ((on_h & ~FULL_BIT & BYTE_MASK) << COUNT_SHIFT) | on_l
        off = ((off_h & ~FULL_BIT & BYTE_MASK) << COUNT_SHIFT) | off_l
        return (off - on) % PWM_STEPS


def _runs(channels: list[int], max_length: int) -> list[tuple[int, int]]:
    """Split sorted ``channels`` into (start, length) runs of consecutive channels, each at most ``max_length``."""
    runs: list[tuple[int, int]] = []
    for channel in channels:
        if runs and runs[-1][0] + runs[-1][1] == channel and runs[-1][1] < max_length:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((channel, 1))
    return runs
