"""``sense flash``: write SENSE firmware to a board with the right tool, then prove it with a handshake.

    flash_board("avr", Path("firmware/build/avr/sense-fw-avr.hex"), port="/dev/ttyUSB0", progress=cb)
    verify_firmware("/dev/ttyUSB0", expected_channels=6)
    provision_key("/dev/ttyUSB0", Path("~/.config/sense/keys/vest.key"))

Flashers per board: avrdude through the Arduino bootloader (``avr``), esptool (``esp32``), UF2 copy to the
BOOTSEL drive (``rp2040``). Verification opens the board's link (serial) and checks the protocol version, the
firmware version and the channel count. Provisioning stores a device key over the wired link
(firmware/PROTOCOL.md section 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from edge.errors import FirmwareError, LinkAuthError, OutputError, ProtocolError
from edge.flash.tools import ProgressCallback
from edge.link import codec
from edge.link.keys import generate_key, load_key, save_key
from edge.link.session import LinkSession
from edge.link.transports import DEFAULT_BAUD, SerialTransport

#: The firmware version this edge release was built and tested with (firmware/core/sense_device.h).
FIRMWARE_VERSION = "1.0.0"
VERIFY_TIMEOUT_S = 8.0
VERIFY_RETRY_S = 0.25


@dataclass(frozen=True)
class Board:
    """A board SENSE firmware runs on: how to flash it and what its firmware should report."""

    name: str
    flasher: str  # "avrdude", "esptool" or "uf2"
    link_baud: int
    n_channels: int | None  # what the firmware must report; None: whatever it reports
    image_hint: str


BOARDS: dict[str, Board] = {
    "avr": Board("avr", "avrdude", DEFAULT_BAUD, 6, "firmware/build/avr/sense-fw-avr.hex (make -C firmware BOARD=avr)"),
    "esp32": Board(
        "esp32", "esptool", DEFAULT_BAUD, None, "a merged .bin, or app.bin with bootloader/partitions beside it"
    ),
    "rp2040": Board("rp2040", "uf2", DEFAULT_BAUD, None, "a .uf2 file"),
}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise FirmwareError(f"unknown board {name!r}; known: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]


def _esp32_parts(image: Path) -> list[tuple[int, Path]]:
    """A merged image goes to 0x0; an Arduino build's app.bin brings its bootloader/partitions from its folder."""
    from edge.flash.esp32 import DEFAULT_LAYOUT

    stem = image.name.removesuffix(".bin")
    siblings = {
        "bootloader": image.with_name(f"{stem}.bootloader.bin"),
        "partitions": image.with_name(f"{stem}.partitions.bin"),
        "app": image,
    }
    if all(path.is_file() for path in siblings.values()):
        return [(offset, siblings[name]) for name, offset in DEFAULT_LAYOUT]
    return [(0x0, image)]


def flash_board(board_name: str, image: Path, port: str, progress: ProgressCallback | None = None) -> str:
    """Write ``image`` to the board on ``port`` (a serial port; for rp2040 the BOOTSEL drive's mount point)."""
    spec = board(board_name)
    image = Path(image).expanduser()
    if not image.is_file():
        raise FirmwareError(f"firmware image {image} does not exist (expected {spec.image_hint})")
    if spec.flasher == "avrdude":
        from edge.flash.avr import flash_avr

        return flash_avr(image, port, progress)
    if spec.flasher == "esptool":
        from edge.flash.esp32 import flash_esp32

        return flash_esp32(_esp32_parts(image), port, progress)
    from edge.flash.uf2 import find_uf2_drive, flash_uf2

    drive = Path(port) if port else find_uf2_drive()
    return str(flash_uf2(image, drive, progress))


def verify_firmware(
    port: str,
    baud: int = DEFAULT_BAUD,
    expected_channels: int | None = None,
    expected_version: str | None = None,
    key: bytes | None = None,
    timeout_s: float = VERIFY_TIMEOUT_S,
) -> codec.Info:
    """Handshake with the freshly flashed firmware (retrying while it boots) and check what it reports."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            session = LinkSession(SerialTransport(port, baud), key=key, reply_timeout_s=0.5)
        except OutputError as error:
            last_error = error
            time.sleep(VERIFY_RETRY_S)
            continue
        try:
            info = session.handshake()
            break
        except LinkAuthError:
            if key is not None or session.info is None:
                raise
            info = session.info  # a device with a key still says who it is before the challenge
            break
        except (ProtocolError, OutputError) as error:
            last_error = error
        finally:
            session.close()
        time.sleep(VERIFY_RETRY_S)
    else:
        raise FirmwareError(f"no SENSE handshake on {port} at {baud} baud within {timeout_s:.0f} s ({last_error})")
    if info.proto_version != codec.PROTOCOL_VERSION:
        raise FirmwareError(
            f"firmware on {port} speaks protocol {info.proto_version}, expected {codec.PROTOCOL_VERSION}"
        )
    if expected_version is not None and info.fw_version != expected_version:
        raise FirmwareError(f"firmware on {port} is version {info.fw_version}, expected {expected_version}")
    if expected_channels is not None and info.n_channels != expected_channels:
        raise FirmwareError(f"firmware on {port} has {info.n_channels} channels, expected {expected_channels}")
    return info


def provision_key(port: str, key_path: Path, baud: int = DEFAULT_BAUD, current_key: bytes | None = None) -> bytes:
    """Store the key from ``key_path`` on the device (creating a new random key file if there is none), then
    prove it with a fresh handshake. Returns the key. Only works over the wired link, where it also replaces a
    key the host does not know (PROTOCOL.md section 4: physical access is the trust anchor)."""
    key_path = Path(key_path).expanduser()
    key = load_key(key_path) if key_path.exists() else generate_key()
    session = LinkSession(SerialTransport(port, baud), key=current_key)
    try:
        try:
            session.handshake()
        except LinkAuthError:
            if session.info is None:
                raise
            # the device has another key: over the wired link a new one replaces it (physical access is trusted)
        session.provision_key(key)
    finally:
        session.close()
    if not key_path.exists():
        save_key(key_path, key)
    verify_firmware(port, baud, key=key)
    return key
