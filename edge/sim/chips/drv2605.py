"""Register-level fake of the TI DRV2605L haptic driver (datasheet SLOS854D), fixed address 0x5A.

Modelled from the datasheet:
- register map 0x00..0x22 with reset values; STATUS (0x00) holds DEVICE_ID in bits 7:5 (7 = DRV2605L) and
  DIAG_RESULT in bit 3; the register pointer auto-increments on multi-byte transfers.
- MODE (0x01): DEV_RESET (bit 7) restores every register and reads back 1 until the reset is done; STANDBY
  (bit 6, set at reset) keeps the output stage off; MODE[2:0] = 0 internal trigger, 5 real-time playback (RTP),
  6 diagnostics, 7 auto-calibration.
- GO (0x0C) bit 0 starts the waveform sequence (internal trigger), the diagnostics or the auto-calibration and
  reads back 1 until it finishes (here: for ``go_busy_reads`` reads).
- auto-calibration needs STANDBY = 0 and an actuator of the kind FEEDBACK_CONTROL.N_ERM_LRA says; it writes
  A_CAL_COMP (0x18), A_CAL_BEMF (0x19), BEMF_GAIN (FEEDBACK_CONTROL[1:0]) and, for an LRA, LRA_RESONANCE_PERIOD
  (0x22, units of 98.46 us) and clears DIAG_RESULT; otherwise it sets DIAG_RESULT.
- RTP: in mode 5 out of standby, RTP_INPUT (0x02) is the drive level, unsigned when CONTROL3.DATA_FORMAT_RTP
  (bit 3) is set, two's complement otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.sim.chips.register_file import RegisterChip

ADDRESS = 0x5A
STATUS = 0x00
MODE = 0x01
RTP_INPUT = 0x02
LIBRARY_SEL = 0x03
WAV_FRM_SEQ1 = 0x04
N_SEQUENCE_SLOTS = 8
GO = 0x0C
A_CAL_COMP = 0x18
A_CAL_BEMF = 0x19
FEEDBACK_CONTROL = 0x1A
CONTROL3 = 0x1D
LRA_RESONANCE_PERIOD = 0x22
LAST_REGISTER = 0x22

MODE_DEV_RESET = 0x80
MODE_STANDBY = 0x40
MODE_MASK = 0x07
MODE_INTERNAL_TRIGGER = 0
MODE_RTP = 5
MODE_DIAGNOSTICS = 6
MODE_AUTO_CALIBRATION = 7
STATUS_DIAG_RESULT = 0x08
FEEDBACK_N_ERM_LRA = 0x80
FEEDBACK_BEMF_GAIN_MASK = 0x03
CONTROL3_DATA_FORMAT_RTP_UNSIGNED = 0x08
SEQUENCE_WAIT_BIT = 0x80
LRA_PERIOD_UNIT_S = 98.46e-6
DEVICE_ID_DRV2605L = 7
DEVICE_ID_SHIFT = 5

RESET_VALUES = bytes(
    [
        0xE0,
        0x40,
        0x00,
        0x01,
        0x01,
        0x00,
        0x00,
        0x00,  # 0x00..0x07
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,  # 0x08..0x0F
        0x00,
        0x05,
        0x19,
        0xFF,
        0x19,
        0xFF,
        0x3E,
        0x8C,  # 0x10..0x17
        0x0C,
        0x6C,
        0x36,
        0x93,
        0xF5,
        0xA0,
        0x20,
        0x80,  # 0x18..0x1F
        0x33,
        0x00,
        0x00,  # 0x20..0x22
    ]
)


@dataclass(frozen=True)
class FakeActuator:
    """The motor on the driver's outputs and what auto-calibration measures on it."""

    kind: str = "LRA"  # "LRA" or "ERM"
    resonance_hz: float = 175.0
    compensation: int = 0x0D
    back_emf: int = 0x8A
    back_emf_gain: int = 2


class FakeDRV2605L(RegisterChip):
    def __init__(
        self,
        actuator: FakeActuator | None = FakeActuator(),
        *,
        device_id: int = DEVICE_ID_DRV2605L,
        go_busy_reads: int = 3,
    ) -> None:
        super().__init__()
        self.actuator = actuator
        self.device_id = device_id
        self.go_busy_reads = go_busy_reads
        self.played_effects: list[list[int]] = []
        self.rtp_history: list[int] = []
        self.n_calibrations = 0
        self._reset_busy_reads = 0
        self._go_busy_reads_left = 0
        self.reset_registers()

    def reset_registers(self) -> None:
        self.registers[:] = bytes(256)
        self.registers[: len(RESET_VALUES)] = RESET_VALUES
        self.registers[STATUS] = (self.device_id << DEVICE_ID_SHIFT) | (self.registers[STATUS] & 0x1F)

    def addresses(self) -> set[int]:
        return {ADDRESS}

    # --- register semantics -----------------------------------------------------------------------------------
    def store(self, register: int, value: int) -> None:
        if register > LAST_REGISTER or register == STATUS:
            return
        if register == MODE and value & MODE_DEV_RESET:
            self.reset_registers()
            self.registers[MODE] |= MODE_DEV_RESET
            self._reset_busy_reads = 1
            return
        self.registers[register] = value
        if register == RTP_INPUT:
            self.rtp_history.append(value)
        if register == GO and value & 1:
            self._go()

    def load(self, register: int) -> int:
        value = self.registers[register]
        if register == MODE and self._reset_busy_reads:
            self._reset_busy_reads -= 1
            if not self._reset_busy_reads:
                self.registers[MODE] &= ~MODE_DEV_RESET & 0xFF
        if register == GO and self._go_busy_reads_left:
            self._go_busy_reads_left -= 1
            if not self._go_busy_reads_left:
                self.registers[GO] = 0
        return value

    def _go(self) -> None:
        mode = self.registers[MODE] & MODE_MASK
        self._go_busy_reads_left = self.go_busy_reads
        if self.registers[MODE] & MODE_STANDBY:
            self.registers[GO] = 0  # nothing happens in standby
            self._go_busy_reads_left = 0
        elif mode == MODE_INTERNAL_TRIGGER:
            self.played_effects.append(self.sequence())
        elif mode == MODE_AUTO_CALIBRATION:
            self._calibrate()
        elif mode == MODE_DIAGNOSTICS:
            self._set_diag(ok=self.actuator is not None)

    def _set_diag(self, *, ok: bool) -> None:
        if ok:
            self.registers[STATUS] &= ~STATUS_DIAG_RESULT & 0xFF
        else:
            self.registers[STATUS] |= STATUS_DIAG_RESULT

    def _calibrate(self) -> None:
        self.n_calibrations += 1
        wants_lra = bool(self.registers[FEEDBACK_CONTROL] & FEEDBACK_N_ERM_LRA)
        actuator = self.actuator
        if actuator is None or (actuator.kind == "LRA") != wants_lra:
            self._set_diag(ok=False)
            return
        self.registers[A_CAL_COMP] = actuator.compensation
        self.registers[A_CAL_BEMF] = actuator.back_emf
        feedback = self.registers[FEEDBACK_CONTROL] & ~FEEDBACK_BEMF_GAIN_MASK & 0xFF
        self.registers[FEEDBACK_CONTROL] = feedback | actuator.back_emf_gain
        if wants_lra:
            self.registers[LRA_RESONANCE_PERIOD] = round(1.0 / actuator.resonance_hz / LRA_PERIOD_UNIT_S)
        self._set_diag(ok=True)

    # --- what the motor sees ----------------------------------------------------------------------------------
    def sequence(self) -> list[int]:
        """Effect ids in WAV_FRM_SEQ1..8 up to the first 0 (wait slots have bit 7 set)."""
        effects = []
        for slot in range(N_SEQUENCE_SLOTS):
            value = self.registers[WAV_FRM_SEQ1 + slot]
            if value == 0:
                break
            effects.append(value)
        return effects

    @property
    def mode(self) -> int:
        return self.registers[MODE] & MODE_MASK

    @property
    def standby(self) -> bool:
        return bool(self.registers[MODE] & MODE_STANDBY)

    def rtp_drive(self) -> float:
        """Drive level in [0, 1] the output stage applies now in RTP mode (0 in standby or another mode)."""
        if self.standby or self.mode != MODE_RTP:
            return 0.0
        value = self.registers[RTP_INPUT]
        if self.registers[CONTROL3] & CONTROL3_DATA_FORMAT_RTP_UNSIGNED:
            return value / 255.0
        signed = value - 256 if value >= 128 else value
        return max(signed, 0) / 127.0
