"""I2C over an ``smbus2``-compatible object, with address reservation and bounded retries.

The layering (STYLE.md #1):

- a *backend* is any object with the ``smbus2.SMBus`` methods we use (:class:`SMBusLike`): the real
  ``smbus2.SMBus(n)``, or a register-level fake in the tests. A :data:`BusFactory` makes one from a bus number;
  :func:`resolve_bus_factory` picks it once: the explicit argument, else the ``SENSE_I2C_BACKEND`` environment
  variable (``module:callable``), else ``smbus2.SMBus``.
- an :class:`I2CBus` is one adapter (``/dev/i2c-N``) shared by every driver on it. It owns the address
  reservations, so two drivers on one bus + address (+ mux channel) fail at construction with a clear error.
- an :class:`I2CDevice` is one reserved address on that bus (optionally behind a mux channel); drivers talk
  only to it. Each transaction is retried up to ``max_attempts`` times on ``OSError``; then it raises
  :class:`edge.errors.OutputError` naming the bus, address, channel, operation and the last error.

Buses opened by number through :func:`open_i2c_bus` are shared per (backend, bus number) and reference
counted, so outputs opened from separate URLs on one bus see each other's reservations. This is a table of
open resources, not a global backend: the backend is still chosen per call.
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from edge._lazy import require
from edge.buses.device_lock import DeviceLock
from edge.errors import ConfigError, OutputError

ENV_I2C_BACKEND = "SENSE_I2C_BACKEND"
"""Environment variable naming the bus factory as ``module:callable`` (``smbus2`` or unset = the real bus)."""

I2C_ADDRESS_MIN = 0x03
I2C_ADDRESS_MAX = 0x77
"""7-bit addresses outside 0x03..0x77 are reserved by the I2C specification."""

SMBUS_BLOCK_MAX_BYTES = 32
"""Largest SMBus block transfer (``I2C_SMBUS_BLOCK_MAX`` in the Linux kernel)."""

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_S = 0.001

BYTE_MAX = 0xFF

T = TypeVar("T")


class SMBusLike(Protocol):
    """The subset of ``smbus2.SMBus`` our drivers use. Every method raises ``OSError`` on a bus error
    (``errno.EREMOTEIO`` = 121 when no device acknowledges the address)."""

    def write_quick(self, i2c_addr: int) -> None: ...

    def read_byte(self, i2c_addr: int) -> int: ...

    def write_byte(self, i2c_addr: int, value: int) -> None: ...

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None: ...

    def close(self) -> None: ...


BusFactory = Callable[[int], SMBusLike]
"""Makes the backend object of bus number N (``/dev/i2c-N``)."""


def smbus2_bus(bus_number: int) -> SMBusLike:
    """The real bus ``/dev/i2c-<bus_number>`` through ``smbus2``, with a fix in the error when it can't open."""
    smbus2 = require("smbus2", "i2c", "I2C outputs")
    path = f"/dev/i2c-{bus_number}"
    try:
        return smbus2.SMBus(bus_number)
    except FileNotFoundError:
        raise OutputError(
            f"I2C bus {bus_number}: {path} does not exist. Enable I2C (Raspberry Pi: 'sudo raspi-config nonint "
            "do_i2c 0' or 'dtparam=i2c_arm=on' in /boot/firmware/config.txt, then reboot); 'sense devices' lists "
            "the buses this board has"
        ) from None
    except PermissionError:
        raise OutputError(
            f"I2C bus {bus_number}: no permission to open {path}. Add your user to the i2c group: "
            "'sudo usermod -aG i2c $USER', then log in again"
        ) from None


@functools.lru_cache(maxsize=None)
def _load_factory(spec: str) -> BusFactory:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{ENV_I2C_BACKEND}={spec!r}: expected 'module:callable' or 'smbus2'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"{ENV_I2C_BACKEND}={spec!r}: cannot load the bus factory: {error}") from None
    if not callable(factory):
        raise ConfigError(f"{ENV_I2C_BACKEND}={spec!r}: {attribute} is not callable")
    return factory


def resolve_bus_factory(factory: BusFactory | None = None) -> BusFactory:
    """The bus backend to use: ``factory`` if given, else ``$SENSE_I2C_BACKEND``, else ``smbus2.SMBus``."""
    if factory is not None:
        return factory
    spec = os.environ.get(ENV_I2C_BACKEND, "").strip()
    if spec in ("", "smbus2"):
        return smbus2_bus
    return _load_factory(spec)


def check_address(address: int) -> int:
    """Return ``address`` if it is a usable 7-bit I2C address, else raise :class:`ConfigError`."""
    if not isinstance(address, int) or not I2C_ADDRESS_MIN <= address <= I2C_ADDRESS_MAX:
        raise ConfigError(
            f"I2C address {address!r} is not a usable 7-bit address (expected 0x{I2C_ADDRESS_MIN:02x}..0x{I2C_ADDRESS_MAX:02x})"
        )
    return address


def _check_byte(value: int, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= BYTE_MAX:
        raise ConfigError(f"I2C {what} {value!r} is not a byte (expected 0..255)")
    return value


Segment = tuple[int, int] | None
"""Where on the bus a device sits: ``None`` = directly on the adapter, ``(mux_address, channel)`` = behind
channel ``channel`` of the mux at ``mux_address``."""


def describe_segment(segment: Segment) -> str:
    return "" if segment is None else f" behind mux 0x{segment[0]:02x} channel {segment[1]}"


class I2CBus:
    """One I2C adapter shared by every driver on it: reservations, a lock, and the retry policy."""

    def __init__(
        self,
        smbus: SMBusLike,
        bus_number: int,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
        on_last_close: Callable[[], None] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError(f"I2C bus {bus_number}: max_attempts must be >= 1, got {max_attempts}")
        self.smbus = smbus
        self.bus_number = bus_number
        self.max_attempts = max_attempts
        self.retry_delay_s = retry_delay_s
        self.lock = threading.RLock()
        self._reservations: dict[tuple[Segment, int], str] = {}
        self._device_locks: dict[tuple[Segment, int], DeviceLock] = {}
        self._shared: dict[str, list[object]] = {}  # key -> [object, n_users]
        self._n_users = 1
        self._on_last_close = on_last_close

    @property
    def closed(self) -> bool:
        return self._n_users == 0

    def acquire(self) -> "I2CBus":
        """Count one more user of this bus (each user calls :meth:`close` once)."""
        if self.closed:
            raise ConfigError(f"I2C bus {self.bus_number} is closed")
        self._n_users += 1
        return self

    def reserve(self, address: int, owner: str, segment: Segment = None) -> None:
        """Reserve ``address`` (on ``segment``) for ``owner``; raise :class:`ConfigError` if someone has it."""
        check_address(address)
        key = (segment, address)
        with self.lock:
            holder = self._reservations.get(key)
            if holder is not None:
                raise ConfigError(
                    f"I2C bus {self.bus_number} address 0x{address:02x}{describe_segment(segment)} is already used "
                    f"by {holder}; {owner} cannot use it too (two drivers on one address would fight)"
                )
            # ... and no other process may drive it either
            where = "" if segment is None else f"-mux{segment[0]:02x}-ch{segment[1]}"
            self._device_locks[key] = DeviceLock(
                f"i2c-{self.bus_number}-{address:02x}{where}",
                f"I2C bus {self.bus_number} address 0x{address:02x}{describe_segment(segment)} ({owner})",
            )
            self._reservations[key] = owner

    def release(self, address: int, segment: Segment = None) -> None:
        with self.lock:
            self._reservations.pop((segment, address), None)
            device_lock = self._device_locks.pop((segment, address), None)
            if device_lock is not None:
                device_lock.release()

    def reservations(self) -> dict[tuple[Segment, int], str]:
        """A copy of the reservation table: (segment, address) -> owner."""
        with self.lock:
            return dict(self._reservations)

    def device(
        self,
        address: int,
        owner: str,
        *,
        segment: Segment = None,
        select: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> "I2CDevice":
        """Reserve ``address`` and return the handle a driver talks through.

        ``select`` runs before each transaction (a mux uses it to route to its channel); ``on_error`` runs after
        each failed attempt (a mux uses it to forget its cached channel so the retry selects again).
        """
        self.reserve(address, owner, segment)
        return I2CDevice(self, address, owner, segment=segment, select=select, on_error=on_error)

    def share(self, key: str, create: Callable[[], T]) -> T:
        """One object per ``key`` shared by every driver on this bus (e.g. the mux in front of several outputs):
        the first call makes it with ``create``, later calls return it. Pair each call with :meth:`unshare`."""
        with self.lock:
            entry = self._shared.get(key)
            if entry is None:
                entry = [create(), 0]
                self._shared[key] = entry
            entry[1] = int(entry[1]) + 1  # type: ignore[call-overload]
            return entry[0]  # type: ignore[return-value]

    def unshare(self, key: str, release: Callable[[T], None]) -> None:
        """Drop one user of the shared ``key``; the last one runs ``release`` on it."""
        with self.lock:
            entry = self._shared.get(key)
            if entry is None:
                return
            entry[1] = int(entry[1]) - 1  # type: ignore[call-overload]
            if entry[1] > 0:  # type: ignore[operator]
                return
            del self._shared[key]
        release(entry[0])  # type: ignore[arg-type]

    def close(self) -> None:
        """Drop one user; the last one closes the backend. Idempotent once closed."""
        if self.closed:
            return
        self._n_users -= 1
        if self._n_users == 0:
            try:
                self.smbus.close()
            finally:
                if self._on_last_close is not None:
                    self._on_last_close()

    def __repr__(self) -> str:
        return f"I2CBus({self.bus_number}, users={self._n_users})"


class I2CDevice:
    """One reserved address on an :class:`I2CBus` (optionally behind a mux channel). Drivers use only this."""

    def __init__(
        self,
        bus: I2CBus,
        address: int,
        owner: str,
        *,
        segment: Segment = None,
        select: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.bus = bus
        self.address = address
        self.owner = owner
        self.segment = segment
        self._select = select
        self._on_error = on_error
        self._closed = False

    def describe(self) -> str:
        return f"I2C bus {self.bus.bus_number} address 0x{self.address:02x}{describe_segment(self.segment)}"

    def _transfer(self, what: str, operation: Callable[[], T]) -> T:
        """Run ``operation`` (after routing), retrying on ``OSError``; raise :class:`OutputError` at the end."""
        if self._closed:
            raise OutputError(f"{self.describe()} ({self.owner}): {what} after the device was closed")
        last_error: OSError | None = None
        for attempt in range(self.bus.max_attempts):
            if attempt:
                time.sleep(self.bus.retry_delay_s)
            with self.bus.lock:
                try:
                    if self._select is not None:
                        self._select()
                    return operation()
                except OutputError as error:  # the mux in front of us gave up already
                    raise OutputError(f"{self.describe()} ({self.owner}): {what}: {error}") from error
                except OSError as error:
                    last_error = error
                    if self._on_error is not None:
                        self._on_error()
        hint = (
            " (no acknowledge: device absent, unpowered or at another address)"
            if (last_error is not None and last_error.errno == errno.EREMOTEIO)
            else ""
        )
        raise OutputError(
            f"{self.describe()} ({self.owner}): {what} failed after {self.bus.max_attempts} attempts: "
            f"{last_error}{hint}"
        ) from last_error

    def write_register(self, register: int, value: int) -> None:
        """Write one byte ``value`` to ``register`` (SMBus write byte data)."""
        _check_byte(register, "register")
        _check_byte(value, f"value for register 0x{register:02x}")
        smbus = self.bus.smbus
        self._transfer(
            f"write 0x{value:02x} to register 0x{register:02x}",
            lambda: smbus.write_byte_data(self.address, register, value),
        )

    def read_register(self, register: int) -> int:
        """Read one byte from ``register`` (SMBus read byte data)."""
        _check_byte(register, "register")
        smbus = self.bus.smbus
        return int(
            self._transfer(f"read register 0x{register:02x}", lambda: smbus.read_byte_data(self.address, register))
        )

    def write_block(self, register: int, data: Sequence[int]) -> None:
        """Write up to 32 bytes starting at ``register`` in one transaction (SMBus I2C block write)."""
        _check_byte(register, "register")
        if not 1 <= len(data) <= SMBUS_BLOCK_MAX_BYTES:
            raise ConfigError(f"I2C block write of {len(data)} bytes (expected 1..{SMBUS_BLOCK_MAX_BYTES})")
        payload = [_check_byte(value, "block byte") for value in data]
        smbus = self.bus.smbus
        self._transfer(
            f"write {len(payload)} bytes from register 0x{register:02x}",
            lambda: smbus.write_i2c_block_data(self.address, register, payload),
        )

    def read_block(self, register: int, n_bytes: int) -> list[int]:
        """Read ``n_bytes`` (1..32) starting at ``register`` in one transaction."""
        _check_byte(register, "register")
        if not 1 <= n_bytes <= SMBUS_BLOCK_MAX_BYTES:
            raise ConfigError(f"I2C block read of {n_bytes} bytes (expected 1..{SMBUS_BLOCK_MAX_BYTES})")
        smbus = self.bus.smbus
        return list(
            self._transfer(
                f"read {n_bytes} bytes from register 0x{register:02x}",
                lambda: smbus.read_i2c_block_data(self.address, register, n_bytes),
            )
        )

    def write_byte(self, value: int) -> None:
        """Write one byte with no register (SMBus send byte), e.g. a mux control byte."""
        _check_byte(value, "value")
        smbus = self.bus.smbus
        self._transfer(f"send byte 0x{value:02x}", lambda: smbus.write_byte(self.address, value))

    def read_byte(self) -> int:
        """Read one byte with no register (SMBus receive byte)."""
        smbus = self.bus.smbus
        return int(self._transfer("receive byte", lambda: smbus.read_byte(self.address)))

    def close(self) -> None:
        """Release the address reservation. Idempotent."""
        if not self._closed:
            self._closed = True
            self.bus.release(self.address, self.segment)

    def __repr__(self) -> str:
        return f"I2CDevice({self.describe()}, owner={self.owner!r})"


_OPEN_BUSES: dict[tuple[BusFactory, int], I2CBus] = {}
_OPEN_BUSES_LOCK = threading.Lock()


def open_i2c_bus(
    bus_number: int, factory: BusFactory | None = None, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> I2CBus:
    """Open bus ``bus_number`` through the resolved backend, or share it if it is open already.

    Each call must be paired with one :meth:`I2CBus.close`; the last one closes the backend.
    """
    if not isinstance(bus_number, int) or bus_number < 0:
        raise ConfigError(f"I2C bus number {bus_number!r} must be an integer >= 0")
    resolved = resolve_bus_factory(factory)
    key = (resolved, bus_number)
    with _OPEN_BUSES_LOCK:
        bus = _OPEN_BUSES.get(key)
        if bus is not None and not bus.closed:
            return bus.acquire()
        bus = I2CBus(
            resolved(bus_number),
            bus_number,
            max_attempts=max_attempts,
            on_last_close=lambda: _forget_bus(key),
        )
        _OPEN_BUSES[key] = bus
        return bus


def open_buses() -> list[I2CBus]:
    """The buses opened through :func:`open_i2c_bus` and not yet closed by all their users."""
    with _OPEN_BUSES_LOCK:
        return list(_OPEN_BUSES.values())


def _forget_bus(key: tuple[BusFactory, int]) -> None:
    with _OPEN_BUSES_LOCK:
        _OPEN_BUSES.pop(key, None)
