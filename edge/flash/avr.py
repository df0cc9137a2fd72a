"""Flash an ATmega328P through its Arduino bootloader with avrdude (``-c arduino``), then let avrdude verify."""

from __future__ import annotations

from pathlib import Path

from edge.errors import FirmwareError
from edge.flash.tools import ProgressCallback, find_tool, run_tool

AVRDUDE_BAR_WIDTH = 50  # avrdude prints 50 '#' for 100 %
PHASES = {"Writing": "write", "Reading": "verify", "Erasing": "erase"}


class AvrdudeProgress:
    """Parses avrdude's ``Writing | ####…`` bars, which grow one '#' at a time without a newline."""

    def __init__(self) -> None:
        self._line = ""

    def feed(self, text: str) -> list[tuple[str, float]]:
        events = []
        for char in text:
            if char in "\r\n":
                self._line = ""
                continue
            self._line += char
            if char == "#" and "|" in self._line:
                label = self._line.split("|", 1)[0].strip()
                if label in PHASES:
                    events.append((PHASES[label], self._line.count("#") / AVRDUDE_BAR_WIDTH))
        return events


def flash_avr(
    image: Path,
    port: str,
    progress: ProgressCallback | None = None,
    part: str = "m328p",
    programmer: str = "arduino",
    baud: int = 57600,
    verify: bool = True,
) -> str:
    """Write the Intel-hex ``image`` through the bootloader on ``port``; avrdude reads it back to verify.

    Returns avrdude's output. Errors (no sync, verify mismatch) raise :class:`FirmwareError`.
    """
    image = Path(image)
    if not image.is_file():
        raise FirmwareError(f"firmware image {image} does not exist (build it with: make -C firmware BOARD=avr)")
    if image.suffix.lower() not in (".hex", ".ihex"):
        raise FirmwareError(f"firmware image {image}: expected an Intel-hex file (.hex) for avrdude")
    avrdude = find_tool("avrdude", debian_package="avrdude")
    command = [avrdude, "-c", programmer, "-p", part, "-P", port, "-b", str(baud), "-U", f"flash:w:{image}:i"]
    if not verify:
        command.insert(1, "-V")
    output = run_tool(command, AvrdudeProgress(), progress, f"avrdude flashing {image.name} on {port}")
    if verify and "bytes of flash verified" not in output:
        raise FirmwareError(f"avrdude did not report a verified flash: {output[-500:]}")
    return output
