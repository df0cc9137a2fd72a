"""Fixtures for ``ble://`` end to end: a private system bus, python-dbusmock's ``bluez5`` template with the vest
added by the test (:mod:`edge.sim.bluez_vest`), and the real ``host`` firmware build behind it, run with
``--untrusted`` (the BLE link rules: no provisioning, no control without the key).

Real bleak runs unchanged against it; the real system bus and any Bluetooth adapter are never used. A missing
``dbus-daemon``, compiler or python-dbusmock FAILS the tests with a message (scripts/setup.sh installs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from edge.link.ble import SENSE_LINK_CHAR_UUID, SENSE_SERVICE_UUID
from edge.link.keys import generate_key, save_key
from edge.link.session import LinkSession
from edge.link.transports import SerialTransport
from edge.sim.firmware import HostFirmware, build_host

from edge.sim.bluez_vest import MockVest, PrivateSystemBus, PtyPeer

VEST_NAME = "SENSE-VEST"
VEST_ADDRESS = "C0:FF:EE:00:00:01"
VEST_CHANNELS = 6
DEFAULT_ATT_MTU = 23  # the BLE default: 20 bytes per write, so most frames are split across writes


@dataclass
class BleVest:
    """A vest in BLE range: ``firmware`` (duties, trace), ``mock`` (D-Bus side, record), ``key_file``."""

    firmware: HostFirmware
    mock: MockVest
    key: bytes
    key_file: Path

    @property
    def url(self) -> str:
        return f"ble://{VEST_NAME}?key={self.key_file}&scan_s=3"


@pytest.fixture(scope="session")
def system_bus() -> Iterator[PrivateSystemBus]:
    try:
        import dbusmock  # noqa: F401
    except ImportError:
        pytest.fail("python-dbusmock is not installed: pip install -e '.[test]' (scripts/setup.sh does)", pytrace=False)
    bus = PrivateSystemBus()
    yield bus
    bus.close()


@pytest.fixture(autouse=True)
def _only_the_private_system_bus(system_bus: PrivateSystemBus, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here talks to the private bus (bleak/dbus-fast read DBUS_SYSTEM_BUS_ADDRESS), never the real one;
    the variable is restored after each test so nothing outside tests/ble sees it."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", system_bus.address)


@pytest.fixture(scope="session")
def host_firmware_binary() -> Path:
    return build_host()


@pytest.fixture
def ble_vest_factory(
    system_bus: PrivateSystemBus, host_firmware_binary: Path, tmp_path: Path
) -> Iterator[Callable[..., BleVest]]:
    """``ble_vest_factory(mtu=23, provisioned="file", n_channels=6)``: the host firmware (untrusted link = BLE rules)
    advertised as ``SENSE-VEST`` on the mocked BlueZ. ``provisioned``: ``"file"`` (the device's key file is written,
    as flashing leaves it), ``"usb"`` (provisioned with PROVISION_KEY over the wired link first, then restarted on
    the BLE link) or ``"none"``."""
    made: list[tuple[HostFirmware, PtyPeer, MockVest]] = []

    def make(mtu: int = DEFAULT_ATT_MTU, provisioned: str = "file", n_channels: int = VEST_CHANNELS) -> BleVest:
        key = generate_key()
        key_file = save_key(tmp_path / "host.key", key)
        channels = ["--channels", str(n_channels)]
        if provisioned == "file":
            save_key(HostFirmware(host_firmware_binary, tmp_path).key_path, key)
        elif provisioned == "usb":
            wired = HostFirmware(host_firmware_binary, tmp_path, channels).start()
            session = LinkSession(SerialTransport(wired.port))
            session.handshake()
            session.provision_key(key)
            session.close()
            wired.stop()
        firmware = HostFirmware(host_firmware_binary, tmp_path, [*channels, "--untrusted"]).start()
        peer = PtyPeer(firmware.port)
        mock = MockVest(
            system_bus,
            peer,
            name=VEST_NAME,
            address=VEST_ADDRESS,
            service_uuid=SENSE_SERVICE_UUID,
            char_uuid=SENSE_LINK_CHAR_UUID,
            mtu=mtu,
        )
        made.append((firmware, peer, mock))
        return BleVest(firmware, mock, key, key_file)

    yield make
    for firmware, peer, mock in made:
        mock.close()
        peer.close()
        firmware.stop()


@pytest.fixture
def ble_vest(ble_vest_factory: Callable[..., BleVest]) -> BleVest:
    return ble_vest_factory()
