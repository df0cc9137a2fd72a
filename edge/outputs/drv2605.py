"""``drv2605://<bus>/0x5a?mux=0x70&channels=0,1,2,3`` — DRV2605L haptic drivers, one per mux channel.

Without ``mux`` the output is one DRV2605L on the bus (one channel; the chip's address is fixed at 0x5A, so more
need a TCA9548A mux, one driver per mux channel). ``mux_channel=N`` is one channel; several outputs may sit
behind one mux (they share it and its channel cache). Query parameters:

- ``actuator=lra|erm`` (default lra), ``rated_v``, ``clamp_v`` (volts, from the motor's datasheet),
  ``resonance_hz`` (LRA), ``library`` (effect library 1..7);
- ``cal=C-B-G,C-B-G,…`` stored auto-calibration results per channel (see
  :meth:`edge.drivers.drv2605.CalibrationResult.to_text`), or ``calibrate=1`` to run auto-calibration at open
  (the results are in :attr:`DRV2605Output.calibrations`, to store in the rig);
- ``max`` (0..1], a cap on the RTP level.

Each frame sets the real-time-playback level ``round(i * max * 255)`` of every changed channel (mux channel
selected first when it changes). Zeroing writes level 0 and puts every driver in standby. A persistent I2C
error zeroes every channel it can reach and raises :class:`~edge.errors.OutputError`; ``close()`` zeroes and
gives back the addresses (the last output on a mux disconnects its channels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from edge.buses.i2c import BusFactory, I2CBus, I2CDevice
from edge.drivers.drv2605 import ADDRESS, RTP_MAX, ActuatorKind, CalibrationResult, DRV2605, DRV2605Config
from edge.drivers.tca9548a import TCA9548A, close_shared_mux, open_shared_mux
from edge.errors import ConfigError, OutputError
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.outputs.failsafe import zero_and_raise
from edge.outputs.i2c_url import build_on_bus, bus_and_address


class DRV2605Output(ActuatorOutput):
    """DRV2605L drivers at ``address``: directly on ``bus`` (``mux_address`` None, one channel) or one behind each
    of ``mux_channels`` of the TCA9548A at ``mux_address``.

    ``calibrations``: per output channel, stored results to apply (None = uncalibrated). ``calibrate``: run
    auto-calibration at open instead. Once constructed, this output owns one use of ``bus``.
    """

    def __init__(
        self,
        bus: I2CBus,
        address: int = ADDRESS,
        *,
        mux_address: int | None = None,
        mux_channels: Sequence[int] = (0,),
        config: DRV2605Config = DRV2605Config(),
        calibrations: Sequence[CalibrationResult | None] | None = None,
        calibrate: bool = False,
        max_level: float = 1.0,
        url: str | None = None,
    ) -> None:
        channels = list(mux_channels) if mux_address is not None else [0]
        url = url or f"drv2605://{bus.bus_number}/0x{address:02x}" + (
            f"?mux=0x{mux_address:02x}" if mux_address else ""
        )
        super().__init__(url, len(channels))
        if len(set(channels)) != len(channels):
            raise ConfigError(f"output {url!r}: mux channels {channels} repeat")
        if calibrations is not None and len(calibrations) != len(channels):
            raise ConfigError(f"output {url!r}: {len(calibrations)} calibrations for {len(channels)} channels")
        if not 0.0 < max_level <= 1.0:
            raise ConfigError(f"output {url!r}: max level {max_level} must be within (0, 1]")
        config.validate()
        self.config = config
        self.max_level = max_level
        self.mux_channels = channels
        self._bus = bus
        self._devices: list[I2CDevice] = []
        self.mux: TCA9548A | None = None
        self._mux_address = mux_address
        self.drivers: list[DRV2605] = []
        self.calibrations: list[CalibrationResult | None] = list(calibrations or [None] * len(channels))
        try:
            if mux_address is not None:
                self.mux = open_shared_mux(bus, mux_address)
                for channel in channels:
                    self.drivers.append(DRV2605(self._reserve(self.mux.channel_device(channel, address, url))))
            else:
                self.drivers.append(DRV2605(self._reserve(bus.device(address, owner=url))))
            for index, driver in enumerate(self.drivers):
                driver.reset()
                if calibrate:
                    self.calibrations[index] = driver.calibrate(config)
                else:
                    driver.configure(config, self.calibrations[index])
        except BaseException:
            self._release_devices()
            raise

    def _reserve(self, device: I2CDevice) -> I2CDevice:
        self._devices.append(device)
        return device

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None, bus_factory: BusFactory | None = None) -> "DRV2605Output":
        bus_number, address = bus_and_address(url, ADDRESS)
        mux_address = url.parse_int(url.query["mux"], "parameter mux") if "mux" in url.query else None
        if mux_address is None and "channels" in url.query:
            raise ConfigError(f"output URL {url.url!r}: channels= needs mux= (one DRV2605L per mux channel)")
        if mux_address is None and "mux_channel" in url.query:
            raise ConfigError(f"output URL {url.url!r}: mux_channel= needs mux=")
        if "channels" in url.query and "mux_channel" in url.query:
            raise ConfigError(f"output URL {url.url!r}: give channels= or mux_channel=, not both")
        default_channels = list(range(n_channels)) if n_channels else [0]
        if "mux_channel" in url.query:
            channels = [url.int_param("mux_channel", 0)]
        else:
            channels = url.int_list("channels", default_channels) if mux_address is not None else [0]
        if n_channels is not None and len(channels) != n_channels:
            raise ConfigError(
                f"output URL {url.url!r}: {len(channels)} channels but the rig puts {n_channels} actuators on it"
            )
        config = _config_from_url(url)
        calibrations: list[CalibrationResult | None] | None = None
        if "cal" in url.query:
            texts = url.query["cal"].split(",")
            if len(texts) != len(channels):
                raise ConfigError(f"output URL {url.url!r}: cal= has {len(texts)} entries for {len(channels)} channels")
            calibrations = [
                CalibrationResult.from_text(text.strip(), f"output URL {url.url!r} cal entry {i}")
                if text.strip()
                else None
                for i, text in enumerate(texts)
            ]
        calibrate = url.query.get("calibrate", "0") in ("1", "true", "yes")
        max_level = url.fraction_param("max", 1.0)
        return build_on_bus(
            bus_number,
            bus_factory,
            lambda bus: cls(
                bus,
                address,
                mux_address=mux_address,
                mux_channels=channels,
                config=config,
                calibrations=calibrations,
                calibrate=calibrate,
                max_level=max_level,
                url=url.url,
            ),
        )

    def levels_for(self, intensities: np.ndarray) -> list[int]:
        """(n_channels,) intensities in [0, 1] -> RTP levels 0..255 after the ``max_level`` cap."""
        scaled = np.rint(intensities.astype(np.float64) * self.max_level * RTP_MAX)
        return [int(value) for value in np.clip(scaled, 0, RTP_MAX)]

    def _write(self, frame: HapticFrame) -> None:
        try:
            for driver, level in zip(self.drivers, self.levels_for(frame.intensities)):
                driver.set_rtp(level)
        except OutputError as error:
            zero_and_raise(self.url, error, self._zero)

    def play_effect(self, channel: int, effect_id: int) -> None:
        """Play library effect ``effect_id`` on output channel ``channel`` (the next frame returns it to RTP)."""
        if not 0 <= channel < self.n_channels:
            raise ConfigError(f"output {self.url!r}: channel {channel} is outside 0..{self.n_channels - 1}")
        try:
            self.drivers[channel].play_effect(effect_id)
        except OutputError as error:
            zero_and_raise(self.url, error, self._zero)

    def calibrate(self) -> list[CalibrationResult]:
        """Run auto-calibration on every channel now; returns (and keeps) the results."""
        results = [driver.calibrate(self.config) for driver in self.drivers]
        self.calibrations = list(results)
        return results

    def _zero(self) -> None:
        """RTP level 0 and standby (output stage off) on every driver reachable; the first error is raised after
        trying them all. The next frame brings them back to RTP mode."""
        first_error: OutputError | None = None
        for driver in self.drivers:
            try:
                driver.forget_state()
                driver.standby()
            except OutputError as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def _release(self) -> None:
        """Give back the addresses, the shared mux and the bus (``_zero`` already put every driver in standby)."""
        try:
            self._release_devices()
        finally:
            self._bus.close()

    def _release_devices(self) -> None:
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
        if self.mux is not None and self._mux_address is not None:
            self.mux = None
            close_shared_mux(self._bus, self._mux_address)


def _config_from_url(url: OutputURL) -> DRV2605Config:
    kind_text = url.query.get("actuator", "lra").upper()
    try:
        kind = ActuatorKind(kind_text)
    except ValueError:
        raise ConfigError(f"output URL {url.url!r}: actuator={kind_text.lower()!r}, expected 'lra' or 'erm'") from None
    defaults = (
        DRV2605Config()
        if kind is ActuatorKind.LRA
        else DRV2605Config(kind=kind, rated_voltage_v=3.0, overdrive_clamp_v=3.6)
    )
    library = url.int_param("library", 0) or None
    config = DRV2605Config(
        kind=kind,
        rated_voltage_v=url.float_param("rated_v", defaults.rated_voltage_v),
        overdrive_clamp_v=url.float_param("clamp_v", defaults.overdrive_clamp_v),
        resonance_hz=url.float_param("resonance_hz", defaults.resonance_hz),
        library=library,
    )
    try:
        config.validate()
    except ConfigError as error:
        raise ConfigError(f"output URL {url.url!r}: {error}") from None
    return config


CALIBRATION_KEYS = ("cal", "calibrate")


def url_with_calibration(url: str, cal_text: str | None) -> str:
    """``url`` with its ``calibrate``/``cal`` parameters replaced by ``cal=<cal_text>`` (removed if None)."""
    parts = urlsplit(url)
    query = [
        (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in CALIBRATION_KEYS
    ]
    if cal_text is not None:
        query.append(("cal", cal_text))
    return urlunsplit(parts._replace(query=urlencode(query, safe=",:")))


def calibrate_output(url: str) -> dict[str, Any]:
    """Open the ``drv2605://`` output at ``url``, run auto-calibration on every channel, zero and close it.

    Returns ``{"url": url with cal=…, "channels": mux channels, "results": [CalibrationResult.to_dict(), …]}``.
    """
    if not url.startswith("drv2605://"):
        raise ConfigError(f"{url!r}: only drv2605:// outputs have auto-calibration")
    from edge.outputs import open_output

    with open_output(url_with_calibration(url, None)) as output:
        if not isinstance(output, DRV2605Output):
            raise ConfigError(f"{url!r}: opened {type(output).__name__}, expected a DRV2605 output")
        results = output.calibrate()
        channels = list(output.mux_channels)
    return {
        "url": url_with_calibration(url, ",".join(result.to_text() for result in results)),
        "channels": channels,
        "results": [result.to_dict() for result in results],
    }
