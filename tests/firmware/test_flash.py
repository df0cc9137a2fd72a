"""`sense flash`: avrdude writing the AVR firmware through the real Arduino bootloader (ATmegaBOOT) running in
simavr, with verify, then the protocol handshake and key provisioning; esptool merge-bin/image-info offline;
UF2 copy to a BOOTSEL-style drive."""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import FirmwareError, LinkAuthError
from edge.flash import flash_board, provision_key, verify_firmware
from edge.flash.avr import AvrdudeProgress
from edge.flash.esp32 import flash_esp32, image_info, merge_images
from edge.link import codec
from edge.link.keys import load_key
from edge.link.session import LinkSession
from edge.link.transports import DEFAULT_BAUD, SerialTransport

from edge.sim.firmware import BOOTLOADER_HEX, BUILD, build_avr, require_tools


@pytest.fixture(scope="module")
def avr_hex() -> Path:
    build_avr(DEFAULT_BAUD)  # what `sense flash avr` verifies at
    return BUILD / f"avr-{DEFAULT_BAUD}" / "sense-fw-avr.hex"


def start_bootloader(simulated_avr):  # type: ignore[no-untyped-def]
    require_tools("avrdude")
    assert BOOTLOADER_HEX.is_file(), f"{BOOTLOADER_HEX} missing: apt-get install arduino-core-avr"
    return simulated_avr("--bootloader", str(BOOTLOADER_HEX), name="ttyBOOT")


def test_flash_avr_through_the_arduino_bootloader_then_verify_and_provision(avr_hex, simulated_avr, tmp_path) -> None:
    avr = start_bootloader(simulated_avr)
    events: list[tuple[str, float]] = []
    output = flash_board("avr", avr_hex, avr.port, progress=lambda phase, fraction: events.append((phase, fraction)))
    assert "bytes of flash verified" in output
    for phase in ("write", "verify"):
        fractions = [f for p, f in events if p == phase]
        assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0, (phase, fractions[:5])
    # the bootloader hands over to the new firmware: the handshake proves version and channel count
    info = verify_firmware(avr.port, expected_channels=6, expected_version="1.0.0")
    assert (info.name, info.n_channels) == ("avr", 6)
    with pytest.raises(FirmwareError, match="has 6 channels, expected 8"):
        verify_firmware(avr.port, expected_channels=8)
    key_path = tmp_path / "keys" / "vest.key"
    key = provision_key(avr.port, key_path)
    assert load_key(key_path) == key
    with pytest.raises(LinkAuthError):
        LinkSession(SerialTransport(avr.port)).handshake()
    # a keyed device still verifies (INFO comes before the challenge) ...
    assert verify_firmware(avr.port, expected_channels=6).flags & codec.FLAG_KEY_PROVISIONED
    # ... and over the wire a new key replaces one the host has lost
    new_key = provision_key(avr.port, tmp_path / "keys" / "new.key")
    assert new_key != key
    with pytest.raises(LinkAuthError, match="refused the key"):
        LinkSession(SerialTransport(avr.port), key=key).handshake()


def test_sense_flash_command(avr_hex, simulated_avr, tmp_path) -> None:
    avr = start_bootloader(simulated_avr)
    key_path = tmp_path / "device.key"
    result = CliRunner().invoke(app, ["flash", "avr", str(avr_hex), "--port", avr.port, "--key", str(key_path)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "verified" in result.output and "avr firmware 1.0.0" in result.output and "6 channels" in result.output
    assert "key provisioned" in result.output and key_path.is_file()


def test_sense_flash_refuses_unknown_boards_and_missing_images(tmp_path) -> None:
    result = CliRunner().invoke(app, ["flash", "pic16", str(tmp_path / "x.hex"), "--port", "/dev/null"])
    assert result.exit_code != 0 and "unknown board 'pic16'" in str(result.exception)
    with pytest.raises(FirmwareError, match="does not exist"):
        flash_board("avr", tmp_path / "missing.hex", "/dev/null")


def test_avrdude_progress_parser() -> None:
    parser = AvrdudeProgress()
    events = parser.feed("avrdude: writing\nWriting | ") + parser.feed("#" * 25) + parser.feed("#" * 25 + " | 100%\n")
    events += parser.feed("Reading | " + "#" * 10)
    assert events[0] == ("write", 1 / 50) and ("write", 1.0) in events and events[-1] == ("verify", 0.2)


# ------------------------------------------------------------------------------------------------ ESP32


def esp32_app_image(segments: list[tuple[int, bytes]], entry: int) -> bytes:
    """An ESP32 application image in the documented format (esptool docs, "Firmware Image Format")."""
    header = struct.pack("<BBBBI", 0xE9, len(segments), 0x02, 0x20, entry)  # DIO, 4 MB, 40 MHz
    extended = struct.pack("<BBBBHBHH4xB", 0xEE, 0, 0, 0, 0x0000, 0, 0, 0xFFFF, 1)  # chip ESP32, hash appended
    body = b""
    checksum = 0xEF
    for address, data in segments:
        assert len(data) % 4 == 0
        body += struct.pack("<II", address, len(data)) + data
        for byte in data:
            checksum ^= byte
    image = header + extended + body
    image += b"\x00" * (15 - len(image) % 16) + bytes([checksum])
    return image + hashlib.sha256(image).digest()


def test_esptool_image_info_and_merge_bin_offline(tmp_path: Path) -> None:
    app_path = tmp_path / "sense_vest.ino.bin"
    app_path.write_bytes(
        esp32_app_image([(0x3FFB0000, bytes(range(64))), (0x40080000, b"\x01\x02\x03\x04" * 32)], entry=0x40080004)
    )
    info = image_info(app_path)
    assert info["checksum_valid"] and info["hash_valid"], info["output"]
    assert info["entry_point"] == 0x40080004 and info["n_segments"] == 2
    bootloader = tmp_path / "sense_vest.ino.bootloader.bin"
    partitions = tmp_path / "sense_vest.ino.partitions.bin"
    bootloader.write_bytes(b"\xaa" * 100)
    partitions.write_bytes(b"\x55" * 64)
    merged = merge_images([(0x1000, bootloader), (0x8000, partitions), (0x10000, app_path)], tmp_path / "merged.bin")
    data = merged.read_bytes()
    assert data[0x1000:0x1064] == bootloader.read_bytes()
    assert data[0x8000:0x8040] == partitions.read_bytes()
    assert data[0x10000:] == app_path.read_bytes()
    assert set(data[:0x1000]) == {0xFF}  # esptool pads with erased flash


def test_esptool_flash_to_a_missing_port_is_a_clear_error(tmp_path: Path) -> None:
    image = tmp_path / "merged.bin"
    image.write_bytes(b"\xff" * 64)
    with pytest.raises(FirmwareError, match="esptool flashing esp32 on /dev/nonexistent-port failed"):
        flash_esp32([(0, image)], "/dev/nonexistent-port")


# ------------------------------------------------------------------------------------------------ UF2


def uf2_image(payload: bytes, family: int = 0xE48BFF56, address: int = 0x10000000) -> bytes:
    """UF2 blocks as specified by microsoft/uf2 (256 payload bytes per 512-byte block)."""
    chunks = [payload[i : i + 256] for i in range(0, len(payload), 256)]
    blocks = []
    for number, chunk in enumerate(chunks):
        head = struct.pack(
            "<8I", 0x0A324655, 0x9E5D5157, 0x2000, address + 256 * number, 256, number, len(chunks), family
        )
        blocks.append(head + chunk.ljust(476, b"\x00") + struct.pack("<I", 0x0AB16F30))
    return b"".join(blocks)


def test_uf2_copy_to_a_bootsel_drive(tmp_path: Path) -> None:
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    image = tmp_path / "sense.uf2"
    image.write_bytes(uf2_image(bytes(range(256)) * 40))
    events: list[tuple[str, float]] = []
    target = flash_board("rp2040", image, str(drive), progress=lambda p, f: events.append((p, f)))
    assert Path(target).read_bytes() == image.read_bytes()
    assert events[-1] == ("write", 1.0)
    result = CliRunner().invoke(app, ["flash", "rp2040", str(image), "--port", str(drive)])
    assert result.exit_code == 0 and "not verified" in result.output


def test_uf2_errors_name_the_problem(tmp_path: Path) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    image = tmp_path / "bad.uf2"
    data = bytearray(uf2_image(bytes(600)))
    data[512 + 20] = 7  # block 1 says it is block 7
    image.write_bytes(bytes(data))
    with pytest.raises(FirmwareError, match="not a UF2 drive"):
        flash_board("rp2040", image, str(drive))
    (drive / "INFO_UF2.TXT").write_text("UF2")
    with pytest.raises(FirmwareError, match="block 1: block number 7"):
        flash_board("rp2040", image, str(drive))


def test_esptool_progress_parser_reads_esptool_4_and_5_lines() -> None:
    from edge.flash.esp32 import EsptoolProgress

    parser = EsptoolProgress()
    events = parser.feed("Writing at 0x00010000 [==>                           ]  12.5% 16384/131072 bytes... \r")
    events += parser.feed("Writing at 0x00020000... (100 %)\nHash of data verified.\n")
    assert events == [("write", 0.125), ("write", 1.0), ("verify", 1.0)]


def test_expected_firmware_version_matches_the_c_core() -> None:
    from edge.flash import FIRMWARE_VERSION

    from edge.sim.firmware import FIRMWARE

    header = (FIRMWARE / "core" / "sense_device.h").read_text()
    parts = [re.search(rf"#define SENSE_FW_{name} (\d+)u", header) for name in ("MAJOR", "MINOR", "PATCH")]
    assert all(parts) and ".".join(p.group(1) for p in parts if p) == FIRMWARE_VERSION
