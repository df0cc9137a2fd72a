"""Register-level fake of the NXP PCA9685 16-channel 12-bit PWM controller (datasheet Rev. 4, 2015).

Modelled from the datasheet:
- registers MODE1 (0x00, reset 0x11: SLEEP | ALLCALL), MODE2 (0x01, reset 0x04: OUTDRV), SUBADR1..3, ALLCALLADR
  (0x05, reset 0xE0 = 7-bit 0x70), LEDn_ON_L/H, LEDn_OFF_L/H at 0x06 + 4n (reset: full off, LEDn_OFF_H = 0x10),
  ALL_LED_ON/OFF (0xFA..0xFD, write-only, read back as 0), PRE_SCALE (0xFE, reset 0x1E = 200 Hz).
- the register pointer auto-increments only when MODE1.AI is set (otherwise every byte hits one register).
- PRE_SCALE writes are blocked while MODE1.SLEEP is 0.
- entering SLEEP while PWM is running sets RESTART; the outputs stay stopped until 1 is written to RESTART
  (writing 1 clears it; writing 0 has no effect).
- the chip also acknowledges its all-call address (0x70 by default) while MODE1.ALLCALL is set — the reason a
  PCA9685 and a TCA9548A at 0x70 collide unless the driver clears ALLCALL.
"""

from __future__ import annotations

from edge.sim.chips.register_file import RegisterChip

MODE1 = 0x00
MODE2 = 0x01
ALLCALLADR = 0x05
LED0_ON_L = 0x06
REGISTERS_PER_LED = 4
N_CHANNELS = 16
LAST_LED_REGISTER = LED0_ON_L + REGISTERS_PER_LED * N_CHANNELS - 1  # 0x45
ALL_LED_ON_L = 0xFA
ALL_LED_OFF_H = 0xFD
PRE_SCALE = 0xFE

MODE1_RESTART = 0x80
MODE1_AI = 0x20
MODE1_SLEEP = 0x10
MODE1_ALLCALL = 0x01
FULL_BIT = 0x10  # bit 4 of LEDn_ON_H / LEDn_OFF_H
COUNT_HIGH_MASK = 0x0F
PWM_STEPS = 4096
OSCILLATOR_HZ = 25_000_000

RESET_VALUES = {MODE1: 0x11, MODE2: 0x04, 0x02: 0xE2, 0x03: 0xE4, 0x04: 0xE8, ALLCALLADR: 0xE0, PRE_SCALE: 0x1E}


class FakePCA9685(RegisterChip):
    def __init__(self, address: int = 0x40) -> None:
        super().__init__()
        self.address = address
        self.restart_pending = False
        self.power_on_reset()

    def power_on_reset(self) -> None:
        self.registers[:] = bytes(256)
        for register, value in RESET_VALUES.items():
            self.registers[register] = value
        for channel in range(N_CHANNELS):
            self.registers[LED0_ON_L + REGISTERS_PER_LED * channel + 3] = FULL_BIT
        self.restart_pending = False

    # --- addressing -------------------------------------------------------------------------------------------
    def addresses(self) -> set[int]:
        found = {self.address}
        if self.registers[MODE1] & MODE1_ALLCALL:
            found.add(self.registers[ALLCALLADR] >> 1)
        return found

    def next_pointer(self, register: int) -> int:
        if not self.registers[MODE1] & MODE1_AI:
            return register
        if register == LAST_LED_REGISTER:
            return MODE1
        return (register + 1) % 256

    # --- register semantics -----------------------------------------------------------------------------------
    def store(self, register: int, value: int) -> None:
        if register == MODE1:
            self._store_mode1(value)
        elif register == PRE_SCALE:
            if self.registers[MODE1] & MODE1_SLEEP:
                self.registers[PRE_SCALE] = value
        elif ALL_LED_ON_L <= register <= ALL_LED_OFF_H:
            offset = register - ALL_LED_ON_L
            for channel in range(N_CHANNELS):
                self.registers[LED0_ON_L + REGISTERS_PER_LED * channel + offset] = value
        elif LED0_ON_L <= register <= LAST_LED_REGISTER or register in (MODE2, 0x02, 0x03, 0x04, ALLCALLADR):
            self.registers[register] = value
        # reserved registers (0x46..0xF9) and TestMode (0xFF) ignore writes

    def _store_mode1(self, value: int) -> None:
        old = self.registers[MODE1]
        entering_sleep = value & MODE1_SLEEP and not old & MODE1_SLEEP
        if entering_sleep and self.any_channel_active_in_registers():
            self.restart_pending = True
        restart = old & MODE1_RESTART
        if self.restart_pending:
            restart = MODE1_RESTART
        if value & MODE1_RESTART and not (value | old) & MODE1_SLEEP and self.restart_pending:
            self.restart_pending = False
            restart = 0
        self.registers[MODE1] = (value & ~MODE1_RESTART & 0xFF) | restart

    def load(self, register: int) -> int:
        if ALL_LED_ON_L <= register <= ALL_LED_OFF_H:
            return 0
        return self.registers[register]

    # --- what the outputs do ----------------------------------------------------------------------------------
    def counts(self, channel: int) -> tuple[int, int, bool, bool]:
        """(on_count, off_count, full_on, full_off) of ``channel`` from its four registers."""
        base = LED0_ON_L + REGISTERS_PER_LED * channel
        on_l, on_h, off_l, off_h = self.registers[base : base + REGISTERS_PER_LED]
        on = ((on_h & COUNT_HIGH_MASK) << 8) | on_l
        off = ((off_h & COUNT_HIGH_MASK) << 8) | off_l
        return on, off, bool(on_h & FULL_BIT), bool(off_h & FULL_BIT)

    def register_duty(self, channel: int) -> float:
        """Duty cycle in [0, 1] the registers of ``channel`` ask for (full-off wins over full-on)."""
        on, off, full_on, full_off = self.counts(channel)
        if full_off:
            return 0.0
        if full_on:
            return 1.0
        return ((off - on) % PWM_STEPS) / PWM_STEPS

    def any_channel_active_in_registers(self) -> bool:
        return any(self.register_duty(channel) > 0 for channel in range(N_CHANNELS))

    @property
    def running(self) -> bool:
        """The oscillator runs and PWM is not waiting for a RESTART."""
        return not self.registers[MODE1] & MODE1_SLEEP and not self.restart_pending

    def duty(self, channel: int) -> float:
        """Duty cycle in [0, 1] that pin LEDn actually outputs now (0 while asleep)."""
        return self.register_duty(channel) if self.running else 0.0

    def duties(self) -> list[float]:
        return [self.duty(channel) for channel in range(N_CHANNELS)]

    def frequency_hz(self) -> float:
        return OSCILLATOR_HZ / (PWM_STEPS * (self.registers[PRE_SCALE] + 1))
