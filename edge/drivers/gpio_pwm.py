"""PWM on Raspberry Pi GPIO pins: software PWM through gpiozero on any pin, or the SoC's hardware PWM
through the Linux PWM sysfs interface (``/sys/class/pwm/pwmchipN``) on GPIO 12, 13, 18, 19.

- software PWM (gpiozero + lgpio/RPi.GPIO/pigpio): any pin, timed by the CPU; frequency 1 Hz .. 10 kHz (lgpio's
  ``tx_pwm`` range), jitter of tens of microseconds - fine for motors at 100 Hz .. 1 kHz.
- hardware PWM (needs ``dtoverlay=pwm-2chan`` on a Pi 4, or the Pi 5 RP1 PWM overlay): exact timing, no CPU;
  frequency 1 Hz .. 1 MHz here (above that the duty resolution of the PWM clock gets coarse). On a Pi 1..4,
  GPIO 12 and 18 share PWM channel 0 and GPIO 13 and 19 share channel 1, so two pins of one channel cannot
  carry different duties; on a Pi 5 the four pins are four channels.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from edge.errors import ConfigError, OutputError

SOFTWARE_PWM_MIN_HZ = 1.0
SOFTWARE_PWM_MAX_HZ = 10_000.0
HARDWARE_PWM_MIN_HZ = 1.0
HARDWARE_PWM_MAX_HZ = 1_000_000.0
GPIO_PIN_MIN = 0
GPIO_PIN_MAX = 27
NS_PER_S = 1_000_000_000

HARDWARE_PWM_CHANNEL_PI4 = {12: 0, 18: 0, 13: 1, 19: 1}
"""BCM pin -> PWM channel on a Pi 1..4 (pins of one channel carry one signal)."""
HARDWARE_PWM_CHANNEL_PI5 = {12: 0, 13: 1, 18: 2, 19: 3}
"""BCM pin -> RP1 PWM0 channel on a Pi 5."""


class PwmPin(Protocol):
    pin: int
    frequency_hz: float

    def set_duty(self, duty: float) -> None: ...

    def close(self) -> None: ...


def check_pin(pin: int) -> int:
    if not isinstance(pin, int) or not GPIO_PIN_MIN <= pin <= GPIO_PIN_MAX:
        raise ConfigError(f"GPIO pin {pin!r} is outside BCM {GPIO_PIN_MIN}..{GPIO_PIN_MAX}")
    return pin


def check_frequency(frequency_hz: float, *, hardware: bool) -> float:
    low, high = (HARDWARE_PWM_MIN_HZ, HARDWARE_PWM_MAX_HZ) if hardware else (SOFTWARE_PWM_MIN_HZ, SOFTWARE_PWM_MAX_HZ)
    kind = "hardware" if hardware else "software"
    if not low <= frequency_hz <= high:
        raise ConfigError(f"{kind} PWM frequency {frequency_hz} Hz is outside {low:g}..{high:g} Hz")
    return frequency_hz


def _check_duty(pin: int, duty: float) -> float:
    if not 0.0 <= duty <= 1.0:
        raise ConfigError(f"GPIO{pin}: duty {duty} is outside [0, 1]")
    return duty


class SoftwarePwmPin:
    """Software PWM on one pin through a gpiozero ``PWMOutputDevice`` built on the ``pin_factory`` passed in."""

    def __init__(self, pin: int, frequency_hz: float, pin_factory: Any) -> None:
        from edge._lazy import require

        gpiozero = require("gpiozero", "gpio", "GPIO outputs")
        self.pin = check_pin(pin)
        self.frequency_hz = check_frequency(frequency_hz, hardware=False)
        try:
            self.device = gpiozero.PWMOutputDevice(
                pin, frequency=frequency_hz, initial_value=0.0, pin_factory=pin_factory
            )
        except gpiozero.GPIOPinInUse as error:
            raise ConfigError(f"GPIO{pin} is already in use: {error}") from None
        except gpiozero.GPIOZeroError as error:
            raise OutputError(f"GPIO{pin}: cannot start software PWM: {error}") from error

    def set_duty(self, duty: float) -> None:
        self.device.value = _check_duty(self.pin, duty)

    def close(self) -> None:
        self.device.close()


_CLAIMED_HARDWARE_CHANNELS: dict[Path, int] = {}
_CLAIMS_LOCK = threading.Lock()


class SysfsHardwarePwmPin:
    """Hardware PWM channel ``channel`` of ``chip_dir`` (``/sys/class/pwm/pwmchipN``) for BCM ``pin``.

    Writes ``period`` and ``duty_cycle`` in nanoseconds and ``enable``. The pin must be routed to the PWM block
    by a device-tree overlay; the channel is exported if it is not yet.
    """

    def __init__(self, pin: int, channel: int, frequency_hz: float, chip_dir: Path) -> None:
        self.pin = check_pin(pin)
        self.frequency_hz = check_frequency(frequency_hz, hardware=True)
        self.channel_dir = chip_dir / f"pwm{channel}"
        self.period_ns = round(NS_PER_S / frequency_hz)
        with _CLAIMS_LOCK:
            holder = _CLAIMED_HARDWARE_CHANNELS.get(self.channel_dir)
            if holder is not None:
                raise ConfigError(
                    f"GPIO{pin}: hardware PWM channel {self.channel_dir} is already used by GPIO{holder} "
                    "(on a Pi 1..4, GPIO 12/18 share channel 0 and GPIO 13/19 channel 1)"
                )
            _CLAIMED_HARDWARE_CHANNELS[self.channel_dir] = pin
        self._claimed = True
        try:
            if not self.channel_dir.is_dir():
                (chip_dir / "export").write_text(f"{channel}\n")
            self._write("duty_cycle", 0)
            self._write("period", self.period_ns)
            self._write("enable", 1)
        except OSError as error:
            self._unclaim()
            raise OutputError(
                f"GPIO{pin}: cannot use hardware PWM {self.channel_dir}: {error}. Fix: enable the PWM overlay "
                "('dtoverlay=pwm-2chan' in /boot/firmware/config.txt, reboot) and make /sys/class/pwm writable "
                "(group gpio), or use pwm=software"
            ) from error

    def _write(self, name: str, value: int) -> None:
        (self.channel_dir / name).write_text(f"{value}\n")

    def set_duty(self, duty: float) -> None:
        self._write("duty_cycle", round(_check_duty(self.pin, duty) * self.period_ns))

    def _unclaim(self) -> None:
        with _CLAIMS_LOCK:
            if self._claimed:
                _CLAIMED_HARDWARE_CHANNELS.pop(self.channel_dir, None)
                self._claimed = False

    def close(self) -> None:
        try:
            self._write("duty_cycle", 0)
            self._write("enable", 0)
        finally:
            self._unclaim()
