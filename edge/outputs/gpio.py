"""``gpio://?pins=12,13&freq=200&pwm=software&max=1.0`` — motors (through a transistor/driver) on GPIO PWM.

Channel c drives BCM pin ``pins[c]`` with duty ``i * max``. ``pwm=software`` (default) uses gpiozero on any
pin, with the pin factory resolved once (:func:`edge.buses.gpio.resolve_pin_factory`) or passed in;
``pwm=hardware`` uses the Linux PWM sysfs channels of GPIO 12/13/18/19 (``chip=N`` for
``/sys/class/pwm/pwmchipN``, or an absolute path). Frequency limits are in :mod:`edge.drivers.gpio_pwm`.
A failing pin write zeroes every pin and raises :class:`~edge.errors.OutputError`; ``close()`` zeroes and
releases the pins.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.buses.gpio import is_raspberry_pi_5, resolve_pin_factory
from edge.drivers.gpio_pwm import (
    HARDWARE_PWM_CHANNEL_PI4,
    HARDWARE_PWM_CHANNEL_PI5,
    PwmPin,
    SoftwarePwmPin,
    SysfsHardwarePwmPin,
    check_frequency,
    check_pin,
)
from edge.errors import ConfigError, OutputError
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.outputs.failsafe import zero_and_raise

DEFAULT_FREQUENCY_HZ = 200.0
PWM_SYSFS_DIR = Path("/sys/class/pwm")


class GpioOutput(ActuatorOutput):
    """One PWM pin per channel. ``hardware_chip_dir`` set = hardware PWM through sysfs, else software PWM on
    ``pin_factory`` (None = resolved once)."""

    def __init__(
        self,
        pins: Sequence[int],
        *,
        frequency_hz: float = DEFAULT_FREQUENCY_HZ,
        max_duty: float = 1.0,
        pin_factory: Any = None,
        hardware_chip_dir: Path | None = None,
        pi5_channel_map: bool | None = None,
        url: str | None = None,
    ) -> None:
        url = url or "gpio://?pins=" + ",".join(str(pin) for pin in pins)
        super().__init__(url, len(pins))
        for pin in pins:
            check_pin(pin)
        if len(set(pins)) != len(pins):
            raise ConfigError(f"output {url!r}: pins {list(pins)} repeat")
        if not 0.0 < max_duty <= 1.0:
            raise ConfigError(f"output {url!r}: max duty {max_duty} must be within (0, 1]")
        hardware = hardware_chip_dir is not None
        try:
            check_frequency(frequency_hz, hardware=hardware)
        except ConfigError as error:
            raise ConfigError(f"output {url!r}: {error}") from None
        self.max_duty = max_duty
        self.frequency_hz = frequency_hz
        self.pins: list[PwmPin] = []
        try:
            if hardware_chip_dir is not None:
                use_pi5 = is_raspberry_pi_5() if pi5_channel_map is None else pi5_channel_map
                channel_map = HARDWARE_PWM_CHANNEL_PI5 if use_pi5 else HARDWARE_PWM_CHANNEL_PI4
                for pin in pins:
                    if pin not in channel_map:
                        raise ConfigError(
                            f"output {url!r}: GPIO{pin} has no hardware PWM; use one of "
                            f"{sorted(channel_map)} or pwm=software"
                        )
                    self.pins.append(SysfsHardwarePwmPin(pin, channel_map[pin], frequency_hz, hardware_chip_dir))
            else:
                factory = resolve_pin_factory(pin_factory)
                for pin in pins:
                    self.pins.append(SoftwarePwmPin(pin, frequency_hz, factory))
        except BaseException:
            self._close_pins()
            raise

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None, pin_factory: Any = None) -> "GpioOutput":
        if "pins" not in url.query:
            raise ConfigError(f"output URL {url.url!r}: needs pins=, e.g. gpio://?pins=12,13&freq=200")
        pins = url.int_list("pins", [])
        if n_channels is not None and len(pins) != n_channels:
            raise ConfigError(f"output URL {url.url!r}: {len(pins)} pins but the rig puts {n_channels} actuators on it")
        mode = url.query.get("pwm", "software")
        if mode not in ("software", "hardware"):
            raise ConfigError(f"output URL {url.url!r}: pwm={mode!r}, expected 'software' or 'hardware'")
        chip_dir = None
        if mode == "hardware":
            chip = url.query.get("chip", "0")
            chip_dir = Path(chip) if chip.startswith("/") else PWM_SYSFS_DIR / f"pwmchip{int(chip)}"
        return cls(
            pins,
            frequency_hz=url.float_param("freq", DEFAULT_FREQUENCY_HZ),
            max_duty=url.fraction_param("max", 1.0),
            pin_factory=pin_factory,
            hardware_chip_dir=chip_dir,
            url=url.url,
        )

    def _write(self, frame: HapticFrame) -> None:
        try:
            for pin, intensity in zip(self.pins, frame.intensities):
                pin.set_duty(float(intensity) * self.max_duty)
        except (OSError, RuntimeError) as error:  # gpiozero's pin errors derive from these
            zero_and_raise(self.url, OutputError(f"GPIO write failed: {error}"), self._zero)

    def _zero(self) -> None:
        first_error: Exception | None = None
        for pin in self.pins:
            try:
                pin.set_duty(0.0)
            except (OSError, RuntimeError) as error:
                first_error = first_error or error
        if first_error is not None:
            raise OutputError(f"output {self.url}: cannot zero a pin: {first_error}") from first_error

    def _release(self) -> None:
        self._close_pins()

    def _close_pins(self) -> None:
        for pin in reversed(self.pins):
            try:
                pin.close()
            except (OSError, RuntimeError):
                pass  # already zeroed by _zero; keep releasing the others
        self.pins.clear()
