"""``ble://`` — the SENSE link over Bluetooth LE (bleak), for a wireless vest running our firmware (esp32 board).

``ble://SENSE-VEST`` finds the vest by its advertised name, ``ble://C0:FF:EE:00:00:01`` by its address. Query
parameters: ``scan_s`` (scan timeout, default 5), ``adapter`` (e.g. ``hci1``), ``service``/``char`` (UUIDs, default
:data:`SENSE_SERVICE_UUID` / :data:`SENSE_LINK_CHAR_UUID`), ``reconnect_min_s``/``reconnect_max_s`` (backoff).

The link is one GATT characteristic carrying the same byte stream as the UART (firmware/PROTOCOL.md): the host
writes without response, chunked to the negotiated MTU (``max_write_without_response_size``, ATT MTU - 3); the
device answers with notifications, which may split a frame anywhere — the COBS framing resynchronises.

:class:`BleTransport` has the :class:`edge.link.session.ByteTransport` shape (``write``/``read``/``close``/
``reopen``), so the same :class:`edge.link.session.LinkSession` and :class:`edge.outputs.firmware.FirmwareOutput`
run over it as over ``serial://``. bleak is asyncio; every ``ble://`` link of a process runs on one event loop
in one daemon thread (:func:`ble_event_loop`: started on first use, stopped at exit), and the transport's
synchronous methods submit coroutines to it and wait, so the pipeline's synchronous ``write()`` works unchanged.

Lifecycle and failsafe:

- ``__init__`` scans and connects (blocking, at most ``scan_s`` + ``connect_s``); a vest that is not found
  raises :class:`OutputError` listing the devices that were seen.
- When the vest disconnects (out of range, switched off), a background task reconnects with exponential backoff
  (``reconnect_min_s`` doubling to ``reconnect_max_s``), and ``write``/``read`` raise :class:`OutputError` until
  the caller has called ``reopen()`` — even if the radio came back in between — because the firmware forgets the
  session (authentication) on every disconnect and the handshake must be redone. ``reopen()`` never blocks on a
  scan: it returns once the background task has reconnected and raises ``OutputError`` until then, so a
  caller's stream keeps its pace while the firmware holds the motors at zero.
- ``close()`` stops any background reconnect, sends STOP_ALL (every output to zero) while still connected, then
  disconnects. It is idempotent. (:class:`FirmwareOutput` has already sent zeros and STOP_ALL before that; the
  transport does it again so that a bare :class:`LinkSession` user gets the same guarantee.)
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import threading
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, TypeVar
from urllib.parse import unquote

from edge._lazy import require
from edge.errors import ConfigError, OutputError
from edge.link import codec
from edge.output_url import OutputURL

LOG = logging.getLogger("edge.link.ble")

# The SENSE GATT service and its one link characteristic (write-without-response + notify). ASCII "SENSE" "Link".
SENSE_SERVICE_UUID = "53454e53-4500-4c69-6e6b-000000000000"
SENSE_LINK_CHAR_UUID = "53454e53-4500-4c69-6e6b-000000000001"

DEFAULT_SCAN_S = 5.0
DEFAULT_CONNECT_S = 10.0
WRITE_TIMEOUT_S = 2.0
DISCONNECT_TIMEOUT_S = 3.0
STOP_ALL_TIMEOUT_S = 0.5
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 5.0
ATT_MIN_WRITE_BYTES = 20  # ATT default MTU 23 - 3 bytes of header
MAX_SEEN_IN_ERROR = 8
LINK_DROPPED = "the link dropped; reopen() and redo the handshake (reconnecting in the background)"

_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")
_UUID_ADDRESS = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")  # macOS CoreBluetooth ids

T = TypeVar("T")


def is_address(target: str) -> bool:
    """True for a Bluetooth address (``AA:BB:CC:DD:EE:FF``) or a CoreBluetooth UUID; else it is a name."""
    return bool(_ADDRESS.match(target) or _UUID_ADDRESS.match(target))


def chunk(data: bytes, max_bytes: int) -> list[bytes]:
    """``data`` split into pieces of at most ``max_bytes`` (one GATT write each), in order."""
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
    return [data[start : start + max_bytes] for start in range(0, len(data), max_bytes)]


class _LoopThread:
    """One asyncio event loop running in one daemon thread; ``run`` submits a coroutine and waits for it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> "Future[T]":
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = self.submit(coroutine)
        try:
            return future.result(timeout_s)
        except FutureTimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=DISCONNECT_TIMEOUT_S)


_RUNNER: _LoopThread | None = None
_RUNNER_LOCK = threading.Lock()


def ble_event_loop() -> _LoopThread:
    """The one asyncio loop (in one daemon thread) that every ``ble://`` link of this process runs on.

    Started on the first ``ble://`` open and stopped at interpreter exit. One loop, not one per link, because
    bleak keeps one BlueZ manager (a D-Bus connection and the object cache) per event loop.
    """
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None:
            _RUNNER = _LoopThread(name="sense-ble")
            atexit.register(_RUNNER.stop)
        return _RUNNER


@dataclass(frozen=True)
class SeenDevice:
    """One device seen advertising: ``names`` (local name and BlueZ name, may be empty), ``rssi_dbm``, and whether it
    advertises the SENSE service (``is_sense``)."""

    address: str
    names: frozenset[str]
    rssi_dbm: int | None
    is_sense: bool

    @property
    def name(self) -> str | None:
        return min(self.names) if self.names else None


def _adapter_kwargs(adapter: str | None) -> dict[str, Any]:
    return {"bluez": {"adapter": adapter}} if adapter else {}


async def _scan(
    bleak: Any, scan_s: float, adapter: str | None, stop_when: Callable[[SeenDevice], bool] | None = None
) -> tuple[list[SeenDevice], Any]:
    """Scan for ``scan_s`` seconds, or until ``stop_when`` accepts a device. Returns (devices seen, in the order
    first seen, with their latest advertisement; the accepted BLEDevice or None)."""
    found: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    seen: dict[str, SeenDevice] = {}

    def on_advertisement(device: Any, advertisement: Any) -> None:
        entry = SeenDevice(
            address=device.address,
            names=frozenset(name for name in (advertisement.local_name, device.name) if name),
            rssi_dbm=advertisement.rssi,
            is_sense=SENSE_SERVICE_UUID in {uuid.lower() for uuid in advertisement.service_uuids},
        )
        seen[device.address] = entry
        if stop_when is not None and stop_when(entry) and not found.done():
            found.set_result(device)

    try:
        async with bleak.BleakScanner(detection_callback=on_advertisement, **_adapter_kwargs(adapter)):
            try:
                device = await asyncio.wait_for(found, scan_s)
            except asyncio.TimeoutError:
                device = None
    except OSError as error:  # no system D-Bus socket, or BlueZ not reachable on it
        raise bleak.exc.BleakError(
            f"cannot reach BlueZ over the system D-Bus ({error}); is the bluetooth "
            "service running ('systemctl status bluetooth')?"
        ) from None
    return list(seen.values()), device


def scan_devices(scan_s: float = DEFAULT_SCAN_S, adapter: str | None = None) -> list[SeenDevice]:
    """Every BLE device seen advertising within ``scan_s`` seconds, SENSE vests first, then by signal strength."""
    bleak = require("bleak", "ble", "scanning for BLE vests")
    if scan_s <= 0:
        raise ConfigError(f"BLE scan: scan_s must be > 0, got {scan_s}")
    try:
        seen, _ = ble_event_loop().run(_scan(bleak, scan_s, adapter), scan_s + DISCONNECT_TIMEOUT_S)
    except bleak.exc.BleakError as error:
        raise OutputError(f"BLE scan failed: {error} (is Bluetooth on and the adapter present?)") from None
    return sorted(seen, key=_vests_first_then_strongest)


def _vests_first_then_strongest(device: SeenDevice) -> tuple[bool, int]:
    no_signal_dbm = -1000
    return (not device.is_sense, -(device.rssi_dbm if device.rssi_dbm is not None else no_signal_dbm))


class BleTransport:
    """The SENSE byte link over one GATT characteristic of the device ``target`` (a name or an address).

    See the module docstring for behaviour. ``mtu_payload_bytes`` is the largest write (ATT MTU - 3) of the
    current connection; ``connects`` counts successful connections (1 after ``__init__``).
    """

    def __init__(
        self,
        target: str,
        *,
        service_uuid: str = SENSE_SERVICE_UUID,
        char_uuid: str = SENSE_LINK_CHAR_UUID,
        scan_s: float = DEFAULT_SCAN_S,
        connect_s: float = DEFAULT_CONNECT_S,
        adapter: str | None = None,
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
    ) -> None:
        if not target:
            raise ConfigError(
                "ble link: no device given, expected e.g. 'ble://SENSE-VEST' or 'ble://C0:FF:EE:00:00:01'"
            )
        if scan_s <= 0 or connect_s <= 0 or reconnect_min_s <= 0 or reconnect_max_s < reconnect_min_s:
            raise ConfigError(
                f"ble link {target}: scan_s, connect_s and reconnect_min_s must be > 0 and "
                f"reconnect_max_s >= reconnect_min_s (got {scan_s}, {connect_s}, {reconnect_min_s}, {reconnect_max_s})"
            )
        self._bleak = require("bleak", "ble", "the ble:// firmware link")
        self.target = target
        self.service_uuid = service_uuid.lower()
        self.char_uuid = char_uuid.lower()
        self.scan_s = scan_s
        self.connect_s = connect_s
        self.adapter = adapter
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.mtu_payload_bytes = ATT_MIN_WRITE_BYTES
        self.connects = 0
        self.reconnect_attempts = 0
        self.last_error: str | None = None
        self._client: Any = None
        self._char: Any = None
        self._connected = False
        self._link_lost = False  # a drop happened that the user of the transport has not reopen()ed after
        self._closed = False
        self._incoming: deque[bytes] = deque()
        self._condition = threading.Condition()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._release_task: asyncio.Task[None] | None = None
        self._runner = ble_event_loop()
        try:
            self._runner.run(self._connect(), scan_s + connect_s + DISCONNECT_TIMEOUT_S)
        except FutureTimeoutError:
            self._closed = True
            raise OutputError(
                f"ble link {target}: scan and connect did not finish within {scan_s + connect_s:.1f} s"
            ) from None

    @classmethod
    def from_url(cls, url: OutputURL) -> "BleTransport":
        target = unquote(url.host + (f"/{url.path}" if url.path else ""))
        return cls(
            target,
            service_uuid=url.query.get("service", SENSE_SERVICE_UUID),
            char_uuid=url.query.get("char", SENSE_LINK_CHAR_UUID),
            scan_s=url.float_param("scan_s", DEFAULT_SCAN_S),
            connect_s=url.float_param("connect_s", DEFAULT_CONNECT_S),
            adapter=url.query.get("adapter") or None,
            reconnect_min_s=url.float_param("reconnect_min_s", RECONNECT_MIN_S),
            reconnect_max_s=url.float_param("reconnect_max_s", RECONNECT_MAX_S),
        )

    # ------------------------------------------------------------------------------------------ state
    @property
    def is_open(self) -> bool:
        """Connected now (False while the link is down or reconnecting, and after ``close()``)."""
        return self._connected and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    def _error(self, problem: str) -> OutputError:
        return OutputError(f"ble link {self.target}: {problem}")

    # ------------------------------------------------------------------------------------------ asyncio side
    async def _find(self) -> Any:
        """Scan until the target is seen or ``scan_s`` passes; return its BLEDevice or raise OutputError."""
        want_address = is_address(self.target)

        def matches(seen: SeenDevice) -> bool:
            return seen.address.upper() == self.target.upper() if want_address else self.target in seen.names

        try:
            seen, device = await _scan(self._bleak, self.scan_s, self.adapter, matches)
        except self._bleak.exc.BleakError as error:
            raise self._error(f"scanning failed: {error} (is Bluetooth on and the adapter present?)") from None
        if device is None:
            listing = ", ".join(f"{found.name or '?'} ({found.address})" for found in seen[:MAX_SEEN_IN_ERROR])
            kind = "address" if want_address else "name"
            raise self._error(
                f"no device with {kind} {self.target!r} found in a {self.scan_s:.1f} s scan "
                f"(seen: {listing or 'nothing'}); is the vest switched on, in range and not connected to another host?"
            )
        return device

    async def _connect(self) -> None:
        device = await self._find()
        client = self._bleak.BleakClient(
            device,
            disconnected_callback=self._on_disconnected,
            timeout=self.connect_s,
            **_adapter_kwargs(self.adapter),
        )
        try:
            await client.connect()
            service = client.services.get_service(self.service_uuid)
            char = service.get_characteristic(self.char_uuid) if service is not None else None
            if char is None:
                found = sorted(service.uuid for service in client.services)
                raise self._error(
                    f"device has no SENSE link characteristic {self.char_uuid} in service {self.service_uuid} "
                    f"(services: {', '.join(found) or 'none'}); is it running the SENSE firmware?"
                )
            if "notify" not in char.properties or not {"write", "write-without-response"} & set(char.properties):
                raise self._error(f"characteristic {self.char_uuid} must allow write and notify, has {char.properties}")
            with self._condition:
                self._incoming.clear()
            await client.start_notify(char, self._on_notification)
        except OutputError:
            await self._disconnect_quietly(client)
            raise
        except (self._bleak.exc.BleakError, asyncio.TimeoutError, OSError) as error:
            await self._disconnect_quietly(client)
            raise self._error(f"connecting failed: {error or type(error).__name__}") from None
        self._client, self._char = client, char
        self.mtu_payload_bytes = max(ATT_MIN_WRITE_BYTES, int(char.max_write_without_response_size))
        self._connected = True
        self.connects += 1
        LOG.info(
            "ble link %s: connected to %s, %d bytes per write", self.target, device.address, self.mtu_payload_bytes
        )

    async def _disconnect_quietly(self, client: Any) -> None:
        try:
            await asyncio.wait_for(client.disconnect(), DISCONNECT_TIMEOUT_S)
        except Exception as error:  # the link may already be gone; nothing more to do
            LOG.debug("ble link %s: disconnect: %s", self.target, error)

    def _on_notification(self, _char: Any, data: bytearray) -> None:
        with self._condition:
            self._incoming.append(bytes(data))
            self._condition.notify_all()

    def _on_disconnected(self, client: Any) -> None:
        if client is not self._client:
            return
        self._connected = False
        self._link_lost = True
        with self._condition:
            self._condition.notify_all()
        # bleak keeps one D-Bus connection per BleakClient; after a drop only disconnect() releases it
        self._release_task = asyncio.get_running_loop().create_task(self._disconnect_quietly(client))
        if not self._closed:
            LOG.warning("ble link %s: disconnected; reconnecting in the background", self.target)
            self._start_reconnect()

    def _start_reconnect(self) -> None:
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        backoff_s = self.reconnect_min_s
        while not self._closed and not self._connected:
            await asyncio.sleep(backoff_s)
            self.reconnect_attempts += 1
            try:
                await self._connect()
            except Exception as error:  # OutputError, or anything unexpected: keep trying, say why in last_error
                self.last_error = str(error) or type(error).__name__
                backoff_s = min(backoff_s * 2.0, self.reconnect_max_s)

    async def _write_chunks(self, data: bytes) -> None:
        response = "write-without-response" not in self._char.properties
        # read per write: BlueZ updates the characteristic's MTU when the exchange finishes, maybe after connect
        self.mtu_payload_bytes = max(ATT_MIN_WRITE_BYTES, int(self._char.max_write_without_response_size))
        for piece in chunk(data, self.mtu_payload_bytes):
            await self._client.write_gatt_char(self._char, piece, response=response)

    async def _shutdown(self, goodbye: bytes) -> None:
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        client = self._client
        if client is None:
            return
        if self._connected and goodbye:
            try:
                await asyncio.wait_for(self._write_chunks(goodbye), STOP_ALL_TIMEOUT_S)
            except Exception as error:  # best effort: the firmware watchdog zeroes the motors anyway
                LOG.warning("ble link %s: STOP_ALL on close failed: %s", self.target, error)
        self._connected = False
        await self._disconnect_quietly(client)

    # ------------------------------------------------------------------------------------------ ByteTransport
    def write(self, data: bytes) -> None:
        """Send ``data`` as write-without-response GATT writes of at most ``mtu_payload_bytes`` each."""
        if self._closed:
            raise self._error("closed")
        if self._link_lost:
            raise self._error(LINK_DROPPED)
        try:
            self._runner.run(self._write_chunks(bytes(data)), WRITE_TIMEOUT_S)
        except FutureTimeoutError:
            raise self._error(f"write of {len(data)} bytes did not finish within {WRITE_TIMEOUT_S} s") from None
        except (self._bleak.exc.BleakError, OSError, AssertionError) as error:
            raise self._error(f"write failed: {error}") from None

    def read(self, timeout_s: float) -> bytes:
        """The notification bytes that arrived within ``timeout_s`` (``b""`` when none)."""
        if self._closed:
            raise self._error("closed")
        if self._link_lost:
            raise self._error(LINK_DROPPED)
        with self._condition:
            if not self._incoming:
                self._condition.wait(timeout_s)
            data = b"".join(self._incoming)
            self._incoming.clear()
        if self._link_lost:
            raise self._error(LINK_DROPPED)
        return data

    def reopen(self) -> None:
        """Return when the background reconnect has succeeded; otherwise raise :class:`OutputError` at once."""
        if self._closed:
            raise self._error("closed")
        if self._connected:
            with self._condition:
                self._incoming.clear()
            self._link_lost = False
            return
        self._runner.loop.call_soon_threadsafe(self._start_reconnect)
        detail = f" (last: {self.last_error})" if self.last_error else ""
        raise self._error(f"not reconnected yet after {self.reconnect_attempts} attempts{detail}")

    def close(self) -> None:
        """Send STOP_ALL while connected, then disconnect. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(
                self._shutdown(codec.encode_message(codec.StopAll())), DISCONNECT_TIMEOUT_S + STOP_ALL_TIMEOUT_S
            )
        except Exception as error:
            LOG.warning("ble link %s: close: %s", self.target, error)
        finally:
            with self._condition:
                self._condition.notify_all()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self._connected else "reconnecting")
        return f"BleTransport({self.target!r}, {state})"


def open_ble_transport(url: OutputURL) -> BleTransport:
    """The transport for ``ble://NAME-or-ADDRESS?…`` (used by :func:`edge.link.transports.open_transport`)."""
    return BleTransport.from_url(url)
