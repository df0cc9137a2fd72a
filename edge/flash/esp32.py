"""Flash an ESP32 with esptool; merge the Arduino-ESP32 build outputs and inspect images offline."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from edge.errors import FirmwareError
from edge.flash.tools import ProgressCallback, find_tool, run_tool

#: Where the Arduino-ESP32 build outputs go on a classic ESP32 (bootloader at 0x1000).
DEFAULT_LAYOUT = (("bootloader", 0x1000), ("partitions", 0x8000), ("app", 0x10000))
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


class EsptoolProgress:
    """Parses ``Writing at 0x00010000 [====>   ] 12.3% ...`` (esptool 5) and ``... (12 %)`` (esptool 4)."""

    def __init__(self) -> None:
        self._line = ""

    def feed(self, text: str) -> list[tuple[str, float]]:
        events = []
        for char in text:
            if char not in "\r\n":
                self._line += char
                continue
            line, self._line = self._line, ""
            match = PERCENT.search(line)
            if match and line.lstrip().startswith("Writing at"):
                events.append(("write", float(match.group(1)) / 100.0))
            elif line.lstrip().startswith("Hash of data verified"):
                events.append(("verify", 1.0))
        return events


def _esptool() -> list[str]:
    find_tool("esptool", pip_package="esptool")  # a clear message when it is missing
    return [sys.executable, "-m", "esptool"]


def _parts(images: list[tuple[int, Path]]) -> list[str]:
    arguments = []
    for offset, path in images:
        if not Path(path).is_file():
            raise FirmwareError(f"ESP32 image {path} does not exist")
        arguments += [hex(offset), str(path)]
    return arguments


def merge_images(images: list[tuple[int, Path]], output: Path, chip: str = "esp32") -> Path:
    """One flashable binary (written at 0x0) from (offset, file) parts, with ``esptool merge-bin`` (offline)."""
    command = _esptool() + ["--chip", chip, "merge-bin", "-o", str(output), *_parts(images)]
    run_tool(command, EsptoolProgress(), None, f"esptool merge-bin into {output}")
    return Path(output)


def image_info(image: Path, chip: str = "esp32") -> dict[str, object]:
    """``esptool image-info`` of an application image: entry point, segment count, checksum/hash validity."""
    command = _esptool() + ["--chip", chip, "image-info", str(image)]
    output = run_tool(command, EsptoolProgress(), None, f"esptool image-info {image}")
    entry = re.search(r"Entry point:\s*(0x[0-9a-fA-F]+)", output)
    segments = re.search(r"Segments:\s*(\d+)", output)
    return {
        "entry_point": int(entry.group(1), 16) if entry else None,
        "n_segments": int(segments.group(1)) if segments else None,
        "checksum_valid": bool(re.search(r"Checksum:.*\(valid\)", output)),
        "hash_valid": bool(re.search(r"Validation [hH]ash:.*\(valid\)", output)),
        "output": output,
    }


def flash_esp32(
    images: list[tuple[int, Path]],
    port: str,
    progress: ProgressCallback | None = None,
    chip: str = "esp32",
    baud: int = 460800,
) -> str:
    """Write (offset, file) parts with ``esptool write-flash`` (esptool verifies each part's hash)."""
    command = _esptool() + ["--chip", chip, "--port", port, "--baud", str(baud), "write-flash", *_parts(images)]
    return run_tool(command, EsptoolProgress(), progress, f"esptool flashing {chip} on {port}")
