"""Build and run the real firmware for tests and benchmarks: the host board behind a pty, the AVR firmware in
the simavr harness. Plain Python (no pytest), so benchmarks/bench_link.py uses the same code.

A missing compiler or simulator raises :class:`ToolMissing` naming what to install (scripts/setup.sh installs
them); tests turn it into a failure, never a skip.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
BUILD = FIRMWARE / "build"
START_TIMEOUT_S = 10.0
PWM_PINS = ["D6", "D5", "D9", "D10", "D11", "D3"]  # channel i -> Arduino pin (firmware/boards/avr/main.c)
BOOTLOADER_HEX = Path("/usr/share/arduino/hardware/arduino/avr/bootloaders/atmega/ATmegaBOOT_168_atmega328.hex")


class ToolMissing(AssertionError):
    """A compiler/simulator/flasher the firmware tests need is not installed."""


class BuildFailed(AssertionError):
    """make failed; the message holds the end of its output."""


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise ToolMissing(f"missing tools {missing}: run scripts/setup.sh (it installs the Debian packages)")


def make(*targets: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess:
    require_tools("make")
    result = subprocess.run(["make", "-C", str(FIRMWARE), *targets], capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise BuildFailed(f"make {' '.join(targets)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def build_host() -> Path:
    require_tools("gcc")
    make("host")
    return BUILD / "host" / "sense-fw-host"


def build_avr(baud: int = 500000) -> Path:
    require_tools("avr-gcc", "avr-objcopy")
    make("avr", f"BAUD={baud}")
    return BUILD / f"avr-{baud}" / "sense-fw-avr.elf"


def build_sim() -> Path:
    require_tools("gcc", "pkg-config")
    make("sim")
    return BUILD / "sim" / "sense-simavr"


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
        command = [
            str(self.binary),
            "--link",
            self.port,
            "--trace",
            str(self.trace_path),
            "--key-file",
            str(self.key_path),
            *self.args,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("PTY "):
            raise AssertionError(
                f"host firmware did not start: {line!r} {self.process.stderr.read() if self.process.stderr else ''}"
            )
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
                if len(parts) >= 2 and not line.startswith("#"):
                    rows.append((int(parts[0]), [int(p) for p in parts[1:]]))
        return rows

    def scheduling_gaps(self) -> list[tuple[int, int]]:
        """(firmware ms, gap ms) for every tick that came late because the OS did not run the firmware."""
        gaps = []
        if self.trace_path.exists():
            for line in self.trace_path.read_text().splitlines():
                if line.startswith("# gap "):
                    _, _, t_ms, gap_ms = line.split()
                    gaps.append((int(t_ms), int(gap_ms)))
        return gaps

    def duties(self) -> list[int]:
        rows = self.trace()
        return rows[-1][1] if rows else []


@dataclass
class SimulatedAVR:
    """The AVR firmware running in the simavr harness; events are collected from its stdout by a thread.

    ``pwm`` holds (pin, duty 0..1, simulated t_s) reports in order (duty averaged over 8 PWM periods);
    with ``--log-rx``, ``pulses`` holds (pin, duty 0..1 of one PWM period, simulated t_s of its rising edge) and
    ``rx_delimiters_s`` the simulated times at which a 0x00 frame delimiter entered the UART.
    """

    harness: Path
    args: list[str]
    port: str
    process: subprocess.Popen | None = None
    pwm: list[tuple[str, float, float]] = field(default_factory=list)
    pulses: list[tuple[str, float, float]] = field(default_factory=list)
    rx_delimiters_s: list[float] = field(default_factory=list)
    stderr_path: Path | None = None

    def start(self) -> "SimulatedAVR":
        stderr = self.stderr_path.open("w") if self.stderr_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(self.harness), "--link", self.port, *self.args], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                parts = line.split()
                if parts[:1] == ["PTY"]:
                    ready.set()
                elif parts[:1] == ["PWM"]:
                    self.pwm.append((parts[1], int(parts[2]) / 1e6, int(parts[3]) / 1e6))
                elif parts[:1] == ["PULSE"]:
                    self.pulses.append((parts[1], int(parts[2]) / 1e6, int(parts[3]) / 1e6))
                elif parts[:1] == ["RX0"]:
                    self.rx_delimiters_s.append(int(parts[1]) / 1e6)
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(START_TIMEOUT_S) or self.process.poll() is not None:
            raise AssertionError(f"simavr harness did not start ({self.stderr_path and self.stderr_path.read_text()})")
        return self

    def duty(self, pin: str) -> float:
        """The last reported duty (0..1) on ``pin``."""
        for name, duty, _ in reversed(self.pwm):
            if name == pin:
                return duty
        return 0.0

    def channel_duties(self) -> list[float]:
        return [self.duty(pin) for pin in PWM_PINS]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)
