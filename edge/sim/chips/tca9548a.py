"""Register-level fake of the TI TCA9548A 8-channel I2C switch (datasheet SCPS207G).

One control register: a write phase's last byte sets it (bit n enables channel n, several may be on); a read
phase returns it. Reset value 0x00 (no channel). Address 0x70..0x77 (A2..A0 straps). Devices on the enabled
channels' segments see every transaction on the upstream bus.
"""

from __future__ import annotations

from edge.sim.chips.i2c_wire import FakeChip, FakeSegment

N_CHANNELS = 8


class FakeTCA9548A(FakeChip):
    def __init__(self, address: int = 0x70) -> None:
        self.address = address
        self.control = 0x00
        self.channels = [FakeSegment() for _ in range(N_CHANNELS)]
        self.n_control_writes = 0

    def addresses(self) -> set[int]:
        return {self.address}

    def write(self, data: bytes) -> None:
        if data:
            self.control = data[-1]
            self.n_control_writes += 1

    def read(self, n_bytes: int) -> bytes:
        return bytes([self.control] * n_bytes)

    def enabled_channels(self) -> list[int]:
        return [channel for channel in range(N_CHANNELS) if self.control >> channel & 1]

    def downstream_segments(self) -> list[FakeSegment]:
        return [self.channels[channel] for channel in self.enabled_channels()]
