"""A fake I2C wire with an ``smbus2``-compatible handle, transaction log, fault injection and bus timing.

Model: every SMBus call is one I2C transaction — START, address byte, written bytes, then for reads a repeated
START, the address byte again and the read bytes, then STOP. Each byte is 8 data bits + 1 ACK bit. A
transaction that no chip acknowledges raises ``OSError(errno.EREMOTEIO)`` (121, "Remote I/O error"), as the
Linux i2c-dev driver does. Several chips answering one address all receive writes; their read bytes are
wired-AND (open-drain SDA), as on a real bus.

Chips sit on :class:`FakeSegment` objects; a mux chip exposes the segments of its enabled channels through
``downstream_segments()``, so transactions reach devices behind the selected channel only.

``clock_hz`` (e.g. 100_000 or 400_000) turns on timing: ``bus_time_s`` accumulates the time the transactions
would take on the wire (a virtual clock; nothing sleeps), ``n_bytes`` counts the bytes including address bytes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

BITS_PER_BYTE_WITH_ACK = 9
START_STOP_BITS = 2
REPEATED_START_BITS = 1
SMBUS_BLOCK_MAX_BYTES = 32


class FakeChip:
    """Base of a fake chip: acknowledges ``addresses()``, receives whole write payloads, answers reads."""

    present: bool = True

    def addresses(self) -> set[int]:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        """One write phase: ``data[0]`` is usually the register pointer, the rest the values."""
        raise NotImplementedError

    def read(self, n_bytes: int) -> bytes:
        """One read phase of ``n_bytes`` from the current register pointer."""
        raise NotImplementedError

    def downstream_segments(self) -> list["FakeSegment"]:
        """Segments this chip connects to the wire right now (a mux: its enabled channels)."""
        return []


ChipT = TypeVar("ChipT", bound=FakeChip)


class FakeSegment:
    """A stretch of wire with chips on it."""

    def __init__(self) -> None:
        self.chips: list[FakeChip] = []

    def add(self, chip: "ChipT") -> "ChipT":
        self.chips.append(chip)
        return chip

    def responders(self, address: int) -> list[FakeChip]:
        found: list[FakeChip] = []
        for chip in self.chips:
            if not chip.present:
                continue
            if address in chip.addresses():
                found.append(chip)
            for segment in chip.downstream_segments():
                found.extend(segment.responders(address))
        return found


@dataclass(frozen=True)
class Transaction:
    address: int
    written: bytes
    n_read: int
    acked: bool


@dataclass
class FakeI2CWire:
    """The physical bus: the root segment, counters, a log and injected faults."""

    clock_hz: float | None = None
    record: bool = True
    root: FakeSegment = field(default_factory=FakeSegment)
    log: list[Transaction] = field(default_factory=list)
    n_bytes: int = 0
    n_transactions: int = 0
    bus_time_s: float = 0.0
    _n_failures_pending: int = 0
    _failure_errno: int = errno.EREMOTEIO

    def add(self, chip: ChipT) -> ChipT:
        return self.root.add(chip)

    def fail_next(self, n_transactions: int, error_number: int = errno.EREMOTEIO) -> None:
        """Make the next ``n_transactions`` transactions fail with ``OSError(error_number)``."""
        self._n_failures_pending = n_transactions
        self._failure_errno = error_number

    def reset_counters(self) -> None:
        self.log.clear()
        self.n_bytes = 0
        self.n_transactions = 0
        self.bus_time_s = 0.0

    def writes_to(self, address: int) -> list[bytes]:
        """Payloads of the acknowledged write phases addressed to ``address``, in order."""
        return [t.written for t in self.log if t.address == address and t.acked and t.written]

    def transact(self, address: int, written: bytes, n_read: int) -> bytes:
        n_address_bytes = 1 + (1 if written and n_read else 0)
        n_bytes = n_address_bytes + len(written) + n_read
        self.n_bytes += n_bytes
        self.n_transactions += 1
        if self.clock_hz:
            bits = (
                START_STOP_BITS
                + BITS_PER_BYTE_WITH_ACK * n_bytes
                + (REPEATED_START_BITS if n_address_bytes == 2 else 0)
            )
            self.bus_time_s += bits / self.clock_hz
        if self._n_failures_pending > 0:
            self._n_failures_pending -= 1
            self._log(address, written, n_read, acked=False)
            raise OSError(self._failure_errno, os.strerror(self._failure_errno))
        responders = self.root.responders(address)
        if not responders:
            self._log(address, written, n_read, acked=False)
            raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))
        if written:
            for chip in responders:
                chip.write(written)
        result = bytes(n_read)
        if n_read:
            result = bytes([0xFF] * n_read)
            for chip in responders:  # open-drain: wired-AND
                result = bytes(a & b for a, b in zip(result, chip.read(n_read)))
        self._log(address, written, n_read, acked=True)
        return result

    def _log(self, address: int, written: bytes, n_read: int, *, acked: bool) -> None:
        if self.record:
            self.log.append(Transaction(address, bytes(written), n_read, acked))

    def open(self, bus_number: int = 1) -> "FakeSMBus":
        """A bus factory: an smbus2-like handle onto this wire."""
        return FakeSMBus(self, bus_number)


def _check_address(i2c_addr: int) -> None:
    if not 0 <= i2c_addr <= 0x7F:
        raise ValueError(f"bad I2C address {i2c_addr}")


class FakeSMBus:
    """The ``smbus2.SMBus`` methods our drivers use, as transactions on a :class:`FakeI2CWire`."""

    def __init__(self, wire: FakeI2CWire, bus_number: int = 1) -> None:
        self.wire = wire
        self.bus_number = bus_number
        self.closed = False

    def _transact(self, i2c_addr: int, written: bytes, n_read: int) -> bytes:
        if self.closed:
            raise OSError(errno.EBADF, "bus handle is closed")
        _check_address(i2c_addr)
        return self.wire.transact(i2c_addr, written, n_read)

    def write_quick(self, i2c_addr: int) -> None:
        self._transact(i2c_addr, b"", 0)

    def read_byte(self, i2c_addr: int) -> int:
        return self._transact(i2c_addr, b"", 1)[0]

    def write_byte(self, i2c_addr: int, value: int) -> None:
        self._transact(i2c_addr, bytes([value]), 0)

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        return self._transact(i2c_addr, bytes([register]), 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._transact(i2c_addr, bytes([register, value]), 0)

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        if length > SMBUS_BLOCK_MAX_BYTES:
            raise ValueError(f"Desired block length over {SMBUS_BLOCK_MAX_BYTES} bytes")
        return list(self._transact(i2c_addr, bytes([register]), length))

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None:
        if len(data) > SMBUS_BLOCK_MAX_BYTES:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX_BYTES} bytes")
        self._transact(i2c_addr, bytes([register, *data]), 0)

    def close(self) -> None:
        self.closed = True


# A bus factory that the ``SENSE_I2C_BACKEND`` environment variable can name, for code paths that open buses by
# number (``open_output(url)``, ``sense run``, ``sense devices``): tests install a wire per bus number first.
_INSTALLED_WIRES: dict[int, FakeI2CWire] = {}

FACTORY_SPEC = "edge.sim.chips.i2c_wire:open_installed_bus"


def install_wire(bus_number: int, wire: FakeI2CWire) -> None:
    _INSTALLED_WIRES[bus_number] = wire


def uninstall_wires() -> None:
    _INSTALLED_WIRES.clear()


def open_installed_bus(bus_number: int) -> FakeSMBus:
    """Like ``smbus2.SMBus(n)``: a handle onto the wire installed as bus ``n``, or FileNotFoundError."""
    if bus_number not in _INSTALLED_WIRES:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), f"/dev/i2c-{bus_number}")
    return FakeSMBus(_INSTALLED_WIRES[bus_number], bus_number)
