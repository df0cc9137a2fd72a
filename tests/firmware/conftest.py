"""Fixtures that build the real firmware (host board, AVR board, simavr harness) and run it behind ptys.

A missing compiler or simulator FAILS the test with a message (scripts/setup.sh installs them); nothing skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
BUILD = FIRMWARE / "build"
START_TIMEOUT_S = 10.0


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing tools {missing}: run scripts/setup.sh (it installs the Debian packages)", pytrace=False)


def make(*targets: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess:
    require_tools("make")
    result = subprocess.run(
        ["make", "-C", str(FIRMWARE), *targets], capture_output=True, text=True, timeout=timeout_s
    )
    if result.returncode != 0:
        pytest.fail(f"make {' '.join(targets)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}", pytrace=False)
    return result


def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture(scope="session")
def host_firmware_binary() -> Path:
    require_tools("gcc")
    make("host")
    return BUILD / "host" / "sense-fw-host"


@dataclass
class HostFirmware:
    """A running ``sense-fw-host``: ``port`` is a stable symlink to its pty; ``trace()`` its duty history."""

    binary: Path
    workdir: Path
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def port(self) -> str:
        return str(self.workdir / "ttySENSE")

    @property
    def trace_path(self) -> Path:
        return self.workdir / "trace.txt"

    @property
    def key_path(self) -> Path:
        return self.workdir / "device.key"

    def start(self) -> "HostFirmware":
        command = [str(self.binary), "--link", self.port, "--trace", str(self.trace_path),
                   "--key-file", str(self.key_path), *self.args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("PTY "):
            raise AssertionError(f"host firmware did not start: {line!r} {self.process.stderr.read() if self.process.stderr else ''}")
        return self

    def kill(self) -> None:
        """Like pulling the USB cable: the pty disappears without a goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)

    def trace(self) -> list[tuple[int, list[int]]]:
        """(firmware ms, duty per channel) for every change, oldest first."""
        rows = []
        if self.trace_path.exists():
            for line in self.trace_path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    rows.append((int(parts[0]), [int(p) for p in parts[1:]]))
        return rows

    def duties(self) -> list[int]:
        rows = self.trace()
        return rows[-1][1] if rows else []


@pytest.fixture
def host_firmware(host_firmware_binary: Path, tmp_path: Path) -> Iterator[Callable[..., HostFirmware]]:
    """Factory: ``host_firmware("--channels", "6")`` starts one; all are stopped at the end."""
    started: list[HostFirmware] = []

    def start(*args: str) -> HostFirmware:
        firmware = HostFirmware(host_firmware_binary, tmp_path, list(args)).start()
        started.append(firmware)
        return firmware

    yield start
    for firmware in started:
        firmware.stop()
