"""Running an external flashing tool (avrdude, esptool) while turning its output into progress callbacks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Callable, Protocol

from edge.errors import FirmwareError

#: progress(phase, fraction): phase such as "erase", "write", "verify"; fraction in [0, 1].
ProgressCallback = Callable[[str, float], None]
OUTPUT_TAIL_CHARS = 2000
READ_CHUNK_BYTES = 256


class OutputParser(Protocol):
    def feed(self, text: str) -> list[tuple[str, float]]: ...


def find_tool(name: str, debian_package: str | None = None, pip_package: str | None = None) -> str:
    """Absolute path of ``name`` on PATH or next to the running Python; a clear FirmwareError if missing."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    path = candidate if os.access(candidate, os.X_OK) else shutil.which(name)
    if path is None:
        how = []
        if debian_package:
            how.append(f"apt-get install {debian_package}")
        if pip_package:
            how.append(f"pip install {pip_package}")
        raise FirmwareError(f"the flashing tool '{name}' is not installed ({' or '.join(how) or 'install it'})")
    return path


def run_tool(
    command: list[str], parser: OutputParser, progress: ProgressCallback | None, what: str, timeout_s: float = 300.0
) -> str:
    """Run ``command``, feeding stdout+stderr to ``parser`` as it arrives. Returns the whole output; a non-zero
    exit raises :class:`FirmwareError` with the end of the tool's output."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError as error:
        raise FirmwareError(f"{what}: cannot start {command[0]} ({error.strerror})") from None
    assert process.stdout is not None
    chunks: list[str] = []
    fd = process.stdout.fileno()
    while True:
        data = os.read(fd, READ_CHUNK_BYTES)
        if not data:
            break
        text = data.decode("utf-8", errors="replace")
        chunks.append(text)
        for phase, fraction in parser.feed(text):
            if progress is not None:
                progress(phase, min(1.0, max(0.0, fraction)))
    try:
        returncode = process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        raise FirmwareError(f"{what}: {command[0]} did not finish within {timeout_s:.0f} s") from None
    output = "".join(chunks)
    if returncode != 0:
        raise FirmwareError(f"{what} failed (exit {returncode}): {output[-OUTPUT_TAIL_CHARS:].strip()}")
    return output
