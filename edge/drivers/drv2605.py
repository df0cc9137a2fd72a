"""TI DRV2605L: haptic driver for one ERM or LRA motor on I2C (datasheet SLOS854D), fixed address 0x5A.

What we use from the datasheet:
- reset: MODE.DEV_RESET (bit 7), which reads back 1 until done; STATUS.DEVICE_ID (bits 7:5) is 7 for the
  DRV2605L (3 for the DRV2605, which we accept too).
- actuator: FEEDBACK_CONTROL.N_ERM_LRA (bit 7) selects LRA; LIBRARY_SEL picks the effect library (6 = LRA,
  1..5 and 7 = ERM libraries TS2200 A..F).
- voltages: RATED_VOLTAGE for an ERM (closed loop) is V_avg / 21.18 mV; for an LRA it is
  V_rms * sqrt(1 - (4 * t_sample + 300 us) * f_LRA) / 20.58 mV with t_sample = 300 us; OD_CLAMP is
  V_peak / 21.96 mV.
- DRIVE_TIME (CONTROL1[4:0]): LRA half period = DRIVE_TIME * 0.1 ms + 0.5 ms; ERM = DRIVE_TIME * 0.2 ms + 1 ms.
- auto-calibration (section 8.5.6): MODE = 7 (out of standby), the feedback/voltage/drive-time registers,
  AUTO_CAL_TIME, GO = 1, poll GO until 0, then STATUS.DIAG_RESULT (0 = success) and the results in A_CAL_COMP,
  A_CAL_BEMF and FEEDBACK_CONTROL.BEMF_GAIN (and LRA_RESONANCE_PERIOD in units of 98.46 us).
- library effects: MODE = 0 (internal trigger), WAV_FRM_SEQ1 = effect id (1..123), WAV_FRM_SEQ2 = 0, GO = 1.
- real-time playback (RTP): MODE = 5, CONTROL3.DATA_FORMAT_RTP = 1 (unsigned), RTP_INPUT = 0..255 each update.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from edge.buses.i2c import I2CDevice
from edge.errors import ConfigError, OutputError

ADDRESS = 0x5A

STATUS = 0x00
MODE = 0x01
RTP_INPUT = 0x02
LIBRARY_SEL = 0x03
WAV_FRM_SEQ1 = 0x04
WAV_FRM_SEQ2 = 0x05
GO = 0x0C
RATED_VOLTAGE = 0x16
OD_CLAMP = 0x17
A_CAL_COMP = 0x18
A_CAL_BEMF = 0x19
FEEDBACK_CONTROL = 0x1A
CONTROL1 = 0x1B
CONTROL2 = 0x1C
CONTROL3 = 0x1D
CONTROL4 = 0x1E
LRA_RESONANCE_PERIOD = 0x22

MODE_DEV_RESET = 0x80
MODE_STANDBY = 0x40
MODE_INTERNAL_TRIGGER = 0
MODE_RTP = 5
MODE_AUTO_CALIBRATION = 7
GO_BIT = 0x01
STATUS_DIAG_RESULT = 0x08
DEVICE_ID_SHIFT = 5
DEVICE_IDS = {7: "DRV2605L", 3: "DRV2605"}

FEEDBACK_N_ERM_LRA = 0x80
FB_BRAKE_FACTOR_RECOMMENDED = 2  # x3
LOOP_GAIN_RECOMMENDED = 2  # high
FB_BRAKE_FACTOR_SHIFT = 4
LOOP_GAIN_SHIFT = 2
BEMF_GAIN_MASK = 0x03
CONTROL1_STARTUP_BOOST = 0x80
DRIVE_TIME_MAX = 0x1F
CONTROL2_DEFAULT = 0xF5  # bidirectional input, brake stabiliser, SAMPLE_TIME 300 us, BLANKING/IDISS 1
CONTROL3_NG_THRESH_4_PERCENT = 0x80
CONTROL3_ERM_OPEN_LOOP = 0x20
CONTROL3_DATA_FORMAT_RTP_UNSIGNED = 0x08
AUTO_CAL_TIME_1000_MS = 0x30  # AUTO_CAL_TIME = 3 (1000..1200 ms), the datasheet's recommendation
LIBRARY_LRA = 6
LIBRARY_ERM_DEFAULT = 1
EFFECT_ID_MAX = 123
RTP_MAX = 255

SAMPLE_TIME_S = 300e-6
LRA_RATED_STEP_V = 20.58e-3
LRA_RATED_OFFSET_S = 300e-6
ERM_RATED_STEP_V = 21.18e-3
OD_CLAMP_STEP_V = 21.96e-3
LRA_DRIVE_TIME_STEP_S = 0.1e-3
LRA_DRIVE_TIME_OFFSET_S = 0.5e-3
ERM_DRIVE_TIME_STEP_S = 0.2e-3
ERM_DRIVE_TIME_OFFSET_S = 1.0e-3
ERM_DRIVE_TIME_S = 4.8e-3  # the reset value, right for most coin ERMs
LRA_PERIOD_UNIT_S = 98.46e-6

RESET_TIMEOUT_S = 0.1
CALIBRATION_TIMEOUT_S = 2.0
GO_POLL_INTERVAL_S = 0.005


class ActuatorKind(str, Enum):
    ERM = "ERM"
    LRA = "LRA"


@dataclass(frozen=True)
class DRV2605Config:
    """How the motor on one DRV2605L is driven. Voltages from the motor's datasheet.

    ``rated_voltage_v``: LRA: rated RMS voltage; ERM: rated average voltage. ``overdrive_clamp_v``: peak
    voltage the driver may apply while overdriving/braking. ``resonance_hz``: LRA resonance (sets DRIVE_TIME
    and the rated-voltage formula); ignored for an ERM. ``library``: effect library, None = 6 for LRA, 1 for ERM.
    """

    kind: ActuatorKind = ActuatorKind.LRA
    rated_voltage_v: float = 2.0
    overdrive_clamp_v: float = 2.5
    resonance_hz: float = 175.0
    library: int | None = None

    def library_id(self) -> int:
        if self.library is not None:
            return self.library
        return LIBRARY_LRA if self.kind is ActuatorKind.LRA else LIBRARY_ERM_DEFAULT

    def rated_voltage_register(self) -> int:
        if self.kind is ActuatorKind.LRA:
            factor = 1.0 - (4 * SAMPLE_TIME_S + LRA_RATED_OFFSET_S) * self.resonance_hz
            if factor <= 0:
                raise ConfigError(f"DRV2605L: LRA resonance {self.resonance_hz} Hz is too high for closed loop")
            value = self.rated_voltage_v * math.sqrt(factor) / LRA_RATED_STEP_V
        else:
            value = self.rated_voltage_v / ERM_RATED_STEP_V
        return _register_value(value, f"rated voltage {self.rated_voltage_v} V")

    def overdrive_clamp_register(self) -> int:
        return _register_value(self.overdrive_clamp_v / OD_CLAMP_STEP_V, f"overdrive clamp {self.overdrive_clamp_v} V")

    def drive_time_register(self) -> int:
        if self.kind is ActuatorKind.LRA:
            if self.resonance_hz <= 0:
                raise ConfigError(f"DRV2605L: LRA resonance {self.resonance_hz} Hz must be > 0")
            half_period_s = 0.5 / self.resonance_hz
            value = (half_period_s - LRA_DRIVE_TIME_OFFSET_S) / LRA_DRIVE_TIME_STEP_S
        else:
            value = (ERM_DRIVE_TIME_S - ERM_DRIVE_TIME_OFFSET_S) / ERM_DRIVE_TIME_STEP_S
        drive_time = round(value)
        if not 0 <= drive_time <= DRIVE_TIME_MAX:
            raise ConfigError(f"DRV2605L: LRA resonance {self.resonance_hz} Hz gives a drive time outside the register")
        return drive_time

    def validate(self) -> None:
        self.rated_voltage_register()
        self.overdrive_clamp_register()
        self.drive_time_register()
        if not 1 <= self.library_id() <= 7:
            raise ConfigError(f"DRV2605L: effect library {self.library_id()} is outside 1..7")
        if self.kind is ActuatorKind.LRA and self.library_id() != LIBRARY_LRA:
            raise ConfigError(f"DRV2605L: an LRA needs effect library {LIBRARY_LRA}, not {self.library_id()}")


def _register_value(value: float, what: str) -> int:
    register = round(value)
    if not 1 <= register <= RTP_MAX:
        raise ConfigError(f"DRV2605L: {what} is outside what the register can hold (gives {register}, max 255)")
    return register


@dataclass(frozen=True)
class CalibrationResult:
    """What auto-calibration measured on one motor; store it in the rig and pass it back at start-up.

    ``compensation`` (A_CAL_COMP), ``back_emf`` (A_CAL_BEMF), ``back_emf_gain`` (BEMF_GAIN, 0..3),
    ``resonance_hz``: the LRA's measured resonance (None for an ERM).
    """

    compensation: int
    back_emf: int
    back_emf_gain: int
    resonance_hz: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "compensation": self.compensation,
            "back_emf": self.back_emf,
            "back_emf_gain": self.back_emf_gain,
        }
        if self.resonance_hz is not None:
            data["resonance_hz"] = round(self.resonance_hz, 2)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "calibration") -> "CalibrationResult":
        try:
            result = cls(
                compensation=int(data["compensation"]),
                back_emf=int(data["back_emf"]),
                back_emf_gain=int(data["back_emf_gain"]),
                resonance_hz=float(data["resonance_hz"]) if data.get("resonance_hz") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"{where}: expected compensation, back_emf, back_emf_gain (and resonance_hz) numbers: {error}"
            ) from None
        result.validate(where)
        return result

    def to_text(self) -> str:
        """Compact form for an output URL: ``compensation-back_emf-gain`` (decimal)."""
        return f"{self.compensation}-{self.back_emf}-{self.back_emf_gain}"

    @classmethod
    def from_text(cls, text: str, where: str = "calibration") -> "CalibrationResult":
        parts = text.split("-")
        try:
            compensation, back_emf, gain = (int(part, 0) for part in parts)
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not 'compensation-back_emf-gain' (three integers)") from None
        result = cls(compensation, back_emf, gain)
        result.validate(where)
        return result

    def validate(self, where: str) -> None:
        if not (
            0 <= self.compensation <= RTP_MAX
            and 0 <= self.back_emf <= RTP_MAX
            and 0 <= self.back_emf_gain <= BEMF_GAIN_MASK
        ):
            raise ConfigError(f"{where}: compensation/back_emf must be 0..255 and back_emf_gain 0..3, got {self}")


class DRV2605:
    """Driver of one DRV2605L. Call :meth:`reset`, then :meth:`configure` (or :meth:`calibrate`), then RTP."""

    def __init__(self, device: I2CDevice, *, wait: Callable[[float], None] = time.sleep) -> None:
        self.device = device
        self._wait = wait
        self._mode: int | None = None
        self._rtp: int | None = None
        self.config: DRV2605Config | None = None
        self.device_name = ""

    def reset(self) -> str:
        """Reset every register (device back in standby) and check the chip; returns its name."""
        self._mode = None
        self._rtp = None
        self.device.write_register(MODE, MODE_DEV_RESET)
        self._poll_clear(MODE, MODE_DEV_RESET, RESET_TIMEOUT_S, "reset")
        self._mode = self.device.read_register(MODE)
        device_id = self.device.read_register(STATUS) >> DEVICE_ID_SHIFT
        if device_id not in DEVICE_IDS:
            raise OutputError(
                f"{self.device.describe()}: answers, but its STATUS says device id {device_id}, not a DRV2605L (7) "
                "or DRV2605 (3); another chip at this address?"
            )
        self.device_name = DEVICE_IDS[device_id]
        return self.device_name

    def _poll_clear(self, register: int, mask: int, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while self.device.read_register(register) & mask:
            if time.monotonic() > deadline:
                raise OutputError(f"{self.device.describe()}: {what} did not finish within {timeout_s} s")
            self._wait(GO_POLL_INTERVAL_S)

    def _set_mode(self, mode: int) -> None:
        if self._mode != mode:
            self._mode = None
            self.device.write_register(MODE, mode)
            self._mode = mode

    def configure(self, config: DRV2605Config, calibration: CalibrationResult | None = None) -> None:
        """Write the actuator settings (and stored calibration results); the chip stays in standby."""
        config.validate()
        self.config = config
        self._set_mode(MODE_STANDBY)
        self._write_actuator_registers(config, calibration.back_emf_gain if calibration else None)
        if calibration is not None:
            self.device.write_register(A_CAL_COMP, calibration.compensation)
            self.device.write_register(A_CAL_BEMF, calibration.back_emf)
        open_loop_erm = config.kind is ActuatorKind.ERM and calibration is None
        self.device.write_register(
            CONTROL3,
            CONTROL3_NG_THRESH_4_PERCENT
            | CONTROL3_DATA_FORMAT_RTP_UNSIGNED
            | (CONTROL3_ERM_OPEN_LOOP if open_loop_erm else 0),
        )
        self.device.write_register(LIBRARY_SEL, config.library_id())

    def _write_actuator_registers(self, config: DRV2605Config, back_emf_gain: int | None) -> None:
        gain = 2 if back_emf_gain is None else back_emf_gain  # 2 is the reset value
        feedback = (
            (FEEDBACK_N_ERM_LRA if config.kind is ActuatorKind.LRA else 0)
            | FB_BRAKE_FACTOR_RECOMMENDED << FB_BRAKE_FACTOR_SHIFT
            | LOOP_GAIN_RECOMMENDED << LOOP_GAIN_SHIFT
            | gain
        )
        self.device.write_register(FEEDBACK_CONTROL, feedback)
        self.device.write_register(RATED_VOLTAGE, config.rated_voltage_register())
        self.device.write_register(OD_CLAMP, config.overdrive_clamp_register())
        self.device.write_register(CONTROL1, CONTROL1_STARTUP_BOOST | config.drive_time_register())
        self.device.write_register(CONTROL2, CONTROL2_DEFAULT)

    def calibrate(self, config: DRV2605Config) -> CalibrationResult:
        """Run auto-calibration on the attached motor and return the results (the motor buzzes ~1 s).

        Raises :class:`OutputError` if the chip reports failure (DIAG_RESULT) or does not finish in time.
        """
        config.validate()
        self._rtp = None
        self._set_mode(MODE_AUTO_CALIBRATION)
        self._write_actuator_registers(config, None)
        self.device.write_register(CONTROL4, AUTO_CAL_TIME_1000_MS)
        self.device.write_register(GO, GO_BIT)
        self._poll_clear(GO, GO_BIT, CALIBRATION_TIMEOUT_S, "auto-calibration")
        if self.device.read_register(STATUS) & STATUS_DIAG_RESULT:
            self._set_mode(MODE_STANDBY)
            raise OutputError(
                f"{self.device.describe()}: auto-calibration failed (DIAG_RESULT = 1): check that a {config.kind.value} "
                "is connected, that the actuator kind is right, and its rated/overdrive voltages"
            )
        resonance_hz = None
        if config.kind is ActuatorKind.LRA:
            period = self.device.read_register(LRA_RESONANCE_PERIOD)
            resonance_hz = 1.0 / (period * LRA_PERIOD_UNIT_S) if period else None
        result = CalibrationResult(
            compensation=self.device.read_register(A_CAL_COMP),
            back_emf=self.device.read_register(A_CAL_BEMF),
            back_emf_gain=self.device.read_register(FEEDBACK_CONTROL) & BEMF_GAIN_MASK,
            resonance_hz=resonance_hz,
        )
        self.configure(config, result)
        return result

    def play_effect(self, effect_id: int) -> None:
        """Play library effect ``effect_id`` (1..123) once, in internal-trigger mode."""
        if not 1 <= effect_id <= EFFECT_ID_MAX:
            raise ConfigError(f"DRV2605L effect id {effect_id} is outside 1..{EFFECT_ID_MAX}")
        self._rtp = None
        self._set_mode(MODE_INTERNAL_TRIGGER)
        self.device.write_register(WAV_FRM_SEQ1, effect_id)
        self.device.write_register(WAV_FRM_SEQ2, 0)
        self.device.write_register(GO, GO_BIT)

    def set_rtp(self, level: int) -> bool:
        """Drive level 0..255 in real-time playback; enters RTP mode if needed. Writes only on change; returns
        whether anything was written."""
        if not isinstance(level, int) or not 0 <= level <= RTP_MAX:
            raise ConfigError(f"DRV2605L RTP level {level!r} is outside 0..{RTP_MAX}")
        wrote = False
        if self._mode != MODE_RTP:
            self._set_mode(MODE_RTP)
            wrote = True
        if self._rtp != level:
            self._rtp = None
            self.device.write_register(RTP_INPUT, level)
            self._rtp = level
            wrote = True
        return wrote

    def forget_state(self) -> None:
        """After a bus error: the chip's mode and RTP level are unknown, write them next time."""
        self._mode = None
        self._rtp = None

    def standby(self) -> None:
        """Output stage off (low power); registers kept."""
        self.device.write_register(RTP_INPUT, 0)
        self._rtp = 0
        self._set_mode(MODE_STANDBY)
