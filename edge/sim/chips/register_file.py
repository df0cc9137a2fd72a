"""A 256-byte register file with a register pointer: the common shape of the I2C chips we fake."""

from __future__ import annotations

from edge.sim.chips.i2c_wire import FakeChip


class RegisterChip(FakeChip):
    """Write phase: first byte sets the pointer, each further byte is stored by :meth:`store` at the pointer,
    which then advances by :meth:`next_pointer`. Read phase: bytes from :meth:`load` at the pointer, advancing."""

    def __init__(self) -> None:
        self.registers = bytearray(256)
        self.pointer = 0
        self.n_register_writes = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        for value in data[1:]:
            self.store(self.pointer, value)
            self.n_register_writes += 1
            self.pointer = self.next_pointer(self.pointer)

    def read(self, n_bytes: int) -> bytes:
        values = []
        for _ in range(n_bytes):
            values.append(self.load(self.pointer))
            self.pointer = self.next_pointer(self.pointer)
        return bytes(values)

    def store(self, register: int, value: int) -> None:
        self.registers[register] = value

    def load(self, register: int) -> int:
        return self.registers[register]

    def next_pointer(self, register: int) -> int:
        return (register + 1) % 256
