"""A BLE vest on a private, mocked BlueZ — the far side of ``ble://`` in tests.

What runs (all real processes, nothing of ours mocked):

* :class:`PrivateSystemBus` — a ``dbus-daemon`` with a generated system-bus config on a socket in a temp dir.
  ``DBUS_SYSTEM_BUS_ADDRESS`` points bleak (dbus-fast) at it; the real system bus is never touched.
* python-dbusmock's ``bluez5`` template on that bus (``python -m dbusmock --system --template bluez5``) with one
  adapter ``hci0``.
* :class:`MockVest` — adds the vest to the mock with the *generic* dbusmock calls: the ``org.bluez.Device1``
  object (``AddObject``; the template's ``AddDevice`` gives ManufacturerData/ServiceData the wrong D-Bus type,
  which crashes bleak's scanner), then ``GattService1`` and one ``GattCharacteristic1`` (write-without-response +
  notify, with an ``MTU`` property), each announced with ``InterfacesAdded``. Methods are dbusmock code strings
  run inside the mock process.
* A bridge (an asyncio loop with dbus-fast in a background thread) between that characteristic and a
  *firmware peer* — any process or pty speaking the wire protocol: it listens to dbusmock's ``MethodCalled``
  signal, feeds every ``WriteValue`` payload to the peer unchanged, and turns the peer's output bytes into
  ``Value`` notifications (``PropertiesChanged``), chunked to ``MTU - 3`` like a real GATT server. While the
  adapter is discovering and the vest is not connected it "advertises" (RSSI updates), as BlueZ reports
  advertisements, so bleak's scanner finds it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

BLUEZ = "org.bluez"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"
DEVICE_IFACE = "org.bluez.Device1"
ADAPTER_IFACE = "org.bluez.Adapter1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
VEST_TEST_IFACE = "org.sense.test.Vest"  # our own test-only interface on the mocked characteristic
ADAPTER_NAME = "hci0"
ADAPTER_PATH = f"/org/bluez/{ADAPTER_NAME}"
ATT_HEADER_BYTES = 3
ADVERTISE_PERIOD_S = 0.05
START_TIMEOUT_S = 30.0  # generous: python-dbusmock starts a Python process, slow on a loaded machine

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def require_tool(name: str) -> str:
    """Path of the executable ``name``; a missing tool FAILS the test (CI installs it via scripts/setup.sh)."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"'{name}' is not installed; run scripts/setup.sh (Debian package 'dbus')")
    return path


class PrivateSystemBus:
    """A private ``dbus-daemon`` configured as a system bus; ``address`` is its D-Bus address."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="sense-dbus-"))
        socket = self._dir / "system_bus_socket"
        config = self._dir / "system.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket))
        log = self._dir / "dbus-daemon.log"  # e.g. "Failed to set fd limit" in containers
        with log.open("w") as log_file:
            self._process = subprocess.Popen(
                [require_tool("dbus-daemon"), f"--config-file={config}", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
            )
        assert self._process.stdout is not None
        self.address = self._process.stdout.readline().strip()
        if not self.address:
            raise RuntimeError(f"dbus-daemon did not start (exit code {self._process.poll()}): {log.read_text()}")

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)


class FirmwarePeer(Protocol):
    """The far end of the characteristic: bytes in (``write``), bytes out (readable ``output_fd``)."""

    output_fd: int

    def write(self, data: bytes) -> None: ...


class PtyPeer:
    """A :class:`FirmwarePeer` on the host firmware's pty, opened raw from our side: what the vest's radio would hand to the core."""

    def __init__(self, port: str) -> None:
        self.output_fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.output_fd, termios.TCSANOW)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.output_fd, view) :]
            except BlockingIOError:
                continue

    def close(self) -> None:
        os.close(self.output_fd)


@dataclass
class VestRecord:
    """What the bridge saw, for assertions: every WriteValue payload and its type option, and notifications."""

    writes: list[bytes] = field(default_factory=list)
    write_types: list[str] = field(default_factory=list)
    notifications: list[bytes] = field(default_factory=list)
    method_calls: list[str] = field(default_factory=list)


def _device_path(address: str) -> str:
    return f"{ADAPTER_PATH}/dev_{address.upper().replace(':', '_')}"


class MockVest:
    """The mocked BlueZ (dbusmock ``bluez5`` + adapter) and one vest bridged to ``peer``.

    ``name``/``address``: what the vest advertises; ``service_uuid``/``char_uuid``: its GATT service and its one
    characteristic; ``mtu``: the ATT MTU BlueZ reports for the characteristic (max write = ``mtu - 3``).
    """

    def __init__(
        self,
        bus: PrivateSystemBus,
        peer: FirmwarePeer,
        *,
        name: str,
        address: str,
        service_uuid: str,
        char_uuid: str,
        mtu: int,
    ) -> None:
        self.bus_address = bus.address
        self.peer = peer
        self.name = name
        self.address = address
        self.service_uuid = service_uuid
        self.char_uuid = char_uuid
        self.mtu = mtu
        self.device_path = _device_path(address)
        self.service_path = f"{self.device_path}/service000c"
        self.char_path = f"{self.service_path}/char000d"
        self.record = VestRecord()
        self.advertising = True
        self._connected = False
        self._notifying = False
        self._rssi = -50
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        self._mock = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--system", "--template", "bluez5"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mock-vest-bridge", daemon=True)
        self._thread.start()
        self._dbus: MessageBus | None = None
        self._advertiser: asyncio.Task[None] | None = None
        self._notify_tasks: set[asyncio.Future[Message]] = set()
        try:
            self._run(self._start())
        except BaseException:
            self.close()
            raise

    # -- life cycle -------------------------------------------------------------------------------------------------

    def _run(self, coroutine: Any, timeout_s: float = START_TIMEOUT_S) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)

    def close(self) -> None:
        try:
            self._run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._mock.terminate()
            self._mock.wait(timeout=5)

    async def _stop(self) -> None:
        if self._advertiser is not None:
            self._advertiser.cancel()
        self._loop.remove_reader(self.peer.output_fd)
        if self._dbus is not None and self._dbus.connected:
            self._dbus.disconnect()

    async def _start(self) -> None:
        self._dbus = await MessageBus(bus_address=self.bus_address, bus_type=BusType.SYSTEM).connect()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not await self._name_has_owner(BLUEZ):
            if self._mock.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"python-dbusmock bluez5 did not start (exit code {self._mock.poll()})")
            await asyncio.sleep(0.05)
        await self._call("/", "org.bluez.Mock", "AddAdapter", "ss", [ADAPTER_NAME, "sense-test-host"])
        await self._add_vest_objects()
        self._dbus.add_message_handler(self._on_message)
        for path in (self.char_path, self.device_path, ADAPTER_PATH):
            await self._call(
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                "s",
                [f"type='signal',sender='{BLUEZ}',interface='{MOCK_IFACE}',member='MethodCalled',path='{path}'"],
                destination="org.freedesktop.DBus",
            )
        self._loop.add_reader(self.peer.output_fd, self._on_peer_output)
        self._advertiser = asyncio.create_task(self._advertise())

    async def _name_has_owner(self, name: str) -> bool:
        reply = await self._call(
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            "s",
            [name],
            destination="org.freedesktop.DBus",
        )
        return bool(reply.body[0])

    async def _call(
        self, path: str, interface: str, member: str, signature: str, body: list[Any], destination: str = BLUEZ
    ) -> Message:
        assert self._dbus is not None
        reply = await self._dbus.call(
            Message(
                destination=destination, path=path, interface=interface, member=member, signature=signature, body=body
            )
        )
        assert reply is not None
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"D-Bus {interface}.{member} on {path}: {reply.error_name}: {reply.body}")
        return reply

    # -- the vest's D-Bus objects -----------------------------------------------------------------------------------

    async def _add_object(self, path: str, interface: str, props: dict[str, Variant], methods: list[list[str]]) -> None:
        await self._call("/", MOCK_IFACE, "AddObject", "ssa{sv}a(ssss)", [path, interface, props, methods])
        await self._call(
            "/",
            MOCK_IFACE,
            "EmitSignal",
            "sssav",
            [
                OBJECT_MANAGER_IFACE,
                "InterfacesAdded",
                "oa{sa{sv}}",
                [Variant("o", path), Variant("a{sa{sv}}", {interface: props})],
            ],
        )

    async def _add_vest_objects(self) -> None:
        device_props = {
            "Address": Variant("s", self.address),
            "AddressType": Variant("s", "random"),
            "Name": Variant("s", self.name),
            "Alias": Variant("s", self.name),
            "Adapter": Variant("o", ADAPTER_PATH),
            "Paired": Variant("b", False),
            "Bonded": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "Connected": Variant("b", False),
            "ServicesResolved": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "UUIDs": Variant("as", [self.service_uuid]),
            "RSSI": Variant("n", self._rssi),
            # The right D-Bus types (the template's AddDevice gets these wrong): a{qv} and a{sv} of byte arrays.
            "ManufacturerData": Variant("a{qv}", {0xFFFF: Variant("ay", b"SENSE")}),
            "ServiceData": Variant("a{sv}", {}),
        }
        connect = (
            "if self.props['org.bluez.Device1']['Connected']:\n"
            "    raise dbus.exceptions.DBusException('Already Connected', name='org.bluez.Error.AlreadyConnected')\n"
            "self.UpdateProperties('org.bluez.Device1', {'Connected': dbus.Boolean(True)})\n"
            "self.UpdateProperties('org.bluez.Device1', {'ServicesResolved': dbus.Boolean(True)})\n"
        )
        disconnect = (
            "if not self.props['org.bluez.Device1']['Connected']:\n"
            "    raise dbus.exceptions.DBusException('Not Connected', name='org.bluez.Error.NotConnected')\n"
            f"objects[{self.char_path!r}].UpdateProperties('org.bluez.GattCharacteristic1', {{'Notifying': dbus.Boolean(False)}})\n"
            "self.UpdateProperties('org.bluez.Device1', {'ServicesResolved': dbus.Boolean(False), 'Connected': dbus.Boolean(False)})\n"
        )
        await self._add_object(
            self.device_path,
            DEVICE_IFACE,
            device_props,
            [
                ["Connect", "", "", connect],
                ["Disconnect", "", "", disconnect],
                ["Pair", "", "", ""],
                ["CancelPairing", "", "", ""],
            ],
        )
        await self._add_object(
            self.service_path,
            SERVICE_IFACE,
            {
                "UUID": Variant("s", self.service_uuid),
                "Device": Variant("o", self.device_path),
                "Primary": Variant("b", True),
                "Includes": Variant("ao", []),
            },
            [],
        )
        not_connected = (
            "if not objects[{device!r}].props['org.bluez.Device1']['Connected']:\n"
            "    raise dbus.exceptions.DBusException('Not connected', name='org.bluez.Error.NotConnected')\n"
        ).format(device=self.device_path)
        await self._add_object(
            self.char_path,
            CHAR_IFACE,
            {
                "UUID": Variant("s", self.char_uuid),
                "Service": Variant("o", self.service_path),
                "Value": Variant("ay", b""),
                "Notifying": Variant("b", False),
                "Flags": Variant("as", ["write-without-response", "write", "notify"]),
                "MTU": Variant("q", self.mtu),
            },
            [
                ["WriteValue", "aya{sv}", "", not_connected],
                [
                    "ReadValue",
                    "a{sv}",
                    "ay",
                    not_connected + "ret = self.props['org.bluez.GattCharacteristic1']['Value']",
                ],
                [
                    "StartNotify",
                    "",
                    "",
                    not_connected
                    + "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(True)})",
                ],
                [
                    "StopNotify",
                    "",
                    "",
                    "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(False)})",
                ],
            ],
        )
        # Test-only: the bridge pushes the peer's bytes through here; the mock stores Value and signals it.
        await self._call(
            self.char_path,
            MOCK_IFACE,
            "AddMethod",
            "sssss",
            [
                VEST_TEST_IFACE,
                "Notify",
                "ay",
                "",
                "self.props['org.bluez.GattCharacteristic1']['Value'] = dbus.Array(args[0], signature='y')\n"
                "self.EmitSignal('org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', "
                "['org.bluez.GattCharacteristic1', {'Value': dbus.Array(args[0], signature='y')}, []])",
            ],
        )

    # -- the bridge -------------------------------------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL or message.member != "MethodCalled":
            return
        method, args = message.body[0], message.body[1]
        self.record.method_calls.append(f"{(message.path or '').rsplit('/', 1)[-1]}.{method}")
        if message.path == self.char_path:
            if method == "WriteValue":
                payload = bytes(args[0].value)
                options = {key: value.value for key, value in args[1].value.items()}
                self.record.writes.append(payload)
                self.record.write_types.append(str(options.get("type", "request")))
                self.peer.write(payload)
            elif method == "StartNotify":
                self._notifying = True
            elif method == "StopNotify":
                self._notifying = False
        elif message.path == self.device_path:
            if method == "Connect":
                self._connected = True
            elif method == "Disconnect":
                self._connected = self._notifying = False

    def _on_peer_output(self) -> None:
        try:
            data = os.read(self.peer.output_fd, 4096)
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(self.peer.output_fd)
            return
        if not (self._connected and self._notifying):
            return  # nobody subscribed: a real GATT server drops the notification
        chunk_bytes = self.mtu - ATT_HEADER_BYTES
        for start in range(0, len(data), chunk_bytes):
            chunk = data[start : start + chunk_bytes]
            self.record.notifications.append(chunk)
            task = asyncio.ensure_future(self._call(self.char_path, VEST_TEST_IFACE, "Notify", "ay", [chunk]))
            self._notify_tasks.add(task)  # sent in order; kept until done, errors (mock gone) read and dropped
            task.add_done_callback(self._notify_done)

    def _notify_done(self, task: "asyncio.Future[Message]") -> None:
        self._notify_tasks.discard(task)
        if not task.cancelled():
            task.exception()

    async def _advertise(self) -> None:
        while True:
            await asyncio.sleep(ADVERTISE_PERIOD_S)
            if self.advertising and not self._connected:
                self._rssi = -50 if self._rssi != -50 else -51
                try:
                    await self._call(
                        self.device_path,
                        MOCK_IFACE,
                        "UpdateProperties",
                        "sa{sv}",
                        [DEVICE_IFACE, {"RSSI": Variant("n", self._rssi)}],
                    )
                except RuntimeError:
                    pass

    # -- what a test does to the vest -------------------------------------------------------------------------------

    def drop_link(self) -> None:
        """The vest walks out of range: BlueZ reports Connected=False (and the characteristic stops notifying)."""

        async def drop() -> None:
            await self._call(self.device_path, DEVICE_IFACE, "Disconnect", "", [])

        self._run(drop())

    def set_mtu(self, mtu: int) -> None:
        """The ATT MTU exchange finished: BlueZ updates the characteristic's ``MTU`` property."""
        self.mtu = mtu
        self._run(
            self._call(
                self.char_path, MOCK_IFACE, "UpdateProperties", "sa{sv}", [CHAR_IFACE, {"MTU": Variant("q", mtu)}]
            )
        )

    def bus_connections(self) -> int:
        """How many clients are connected to the private bus now (each BleakClient holds one while connected)."""

        async def count() -> int:
            reply = await self._call(
                "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames", "", [], destination="org.freedesktop.DBus"
            )
            return sum(1 for name in reply.body[0] if name.startswith(":"))

        return int(self._run(count()))

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
        """Poll ``condition`` until true; fail with ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s} s waiting for {what}; vest calls: {self.record.method_calls[-20:]}"
                )
            time.sleep(0.01)
