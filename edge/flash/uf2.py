"""Flash an RP2040-class board by copying a UF2 file to its BOOTSEL mass-storage drive.

UF2 (Microsoft's USB Flashing Format): 512-byte blocks, magic 0x0A324655 / 0x9E5D5157 at the start and
0x0AB16F30 at the end of each block, 256 payload bytes per block. The drive is recognised by INFO_UF2.TXT.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from edge.errors import FirmwareError
from edge.flash.tools import ProgressCallback

UF2_BLOCK_BYTES = 512
UF2_MAGIC_START0 = 0x0A324655
UF2_MAGIC_START1 = 0x9E5D5157
UF2_MAGIC_END = 0x0AB16F30
UF2_INFO_FILE = "INFO_UF2.TXT"
UF2_HEADER = struct.Struct("<8I")  # magic0, magic1, flags, target address, payload size, block no, n blocks, family
COPY_BLOCKS_PER_STEP = 16


def check_uf2(image: Path) -> int:
    """Validate every block of a UF2 file; return the block count. Errors name the block and the field."""
    data = Path(image).read_bytes()
    if not data or len(data) % UF2_BLOCK_BYTES:
        raise FirmwareError(f"UF2 image {image}: {len(data)} bytes, expected a non-empty multiple of 512")
    n_blocks = len(data) // UF2_BLOCK_BYTES
    for index in range(n_blocks):
        block = data[index * UF2_BLOCK_BYTES : (index + 1) * UF2_BLOCK_BYTES]
        magic0, magic1, _flags, _address, size, number, total, _family = UF2_HEADER.unpack_from(block)
        (magic_end,) = struct.unpack_from("<I", block, UF2_BLOCK_BYTES - 4)
        if (magic0, magic1, magic_end) != (UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END):
            raise FirmwareError(f"UF2 image {image}: block {index}: bad magic numbers")
        if number != index or total != n_blocks or size > 476:
            raise FirmwareError(
                f"UF2 image {image}: block {index}: block number {number} of {total}, payload {size} bytes "
                f"(expected {index} of {n_blocks}, payload <= 476)"
            )
    return n_blocks


def find_uf2_drive(candidates: list[Path] | None = None) -> Path:
    """The mounted BOOTSEL drive: the first candidate folder that holds INFO_UF2.TXT."""
    if candidates is None:
        user = os.environ.get("USER", "")
        roots = [Path("/media") / user, Path("/run/media") / user, Path("/mnt"), Path("/Volumes")]
        candidates = [child for root in roots if root.is_dir() for child in root.iterdir()]
    for candidate in candidates:
        if (candidate / UF2_INFO_FILE).is_file():
            return candidate
    raise FirmwareError(
        "no UF2 drive found: hold BOOTSEL while plugging the board in, then give its mount point with --port"
    )


def flash_uf2(image: Path, drive: Path, progress: ProgressCallback | None = None) -> Path:
    """Copy ``image`` to ``drive`` block by block (progress per block), then fsync. Returns the written path."""
    drive = Path(drive)
    if not (drive / UF2_INFO_FILE).is_file():
        raise FirmwareError(f"{drive} is not a UF2 drive (no {UF2_INFO_FILE}); is the board in BOOTSEL mode?")
    n_blocks = check_uf2(image)
    data = Path(image).read_bytes()
    target = drive / Path(image).name
    step = UF2_BLOCK_BYTES * COPY_BLOCKS_PER_STEP
    try:
        with open(target, "wb") as handle:
            for start in range(0, len(data), step):
                handle.write(data[start : start + step])
                if progress is not None:
                    progress("write", min(1.0, (start + step) / (n_blocks * UF2_BLOCK_BYTES)))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise FirmwareError(f"copying {image} to {drive}: {error.strerror}") from None
    return target
