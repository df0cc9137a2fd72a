"""Fixtures that build the real firmware (host board, AVR board, simavr harness) and run it behind ptys.

A missing compiler or simulator FAILS the test with a message (scripts/setup.sh installs them); nothing skips.
The process runners live in edge/sim/firmware.py, shared with benchmarks/bench_link.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from edge.sim.firmware import HostFirmware, SimulatedAVR, build_avr, build_host, build_sim


@pytest.fixture(scope="session")
def host_firmware_binary() -> Path:
    return build_host()


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


@pytest.fixture(scope="session")
def avr_firmware_elf() -> Path:
    return build_avr(115200)


@pytest.fixture(scope="session")
def simavr_harness() -> Path:
    return build_sim()


@pytest.fixture
def simulated_avr(simavr_harness: Path, tmp_path: Path) -> Iterator[Callable[..., SimulatedAVR]]:
    """Factory: ``simulated_avr(elf, "--log-rx")`` starts the harness; all are stopped at the end."""
    started: list[SimulatedAVR] = []

    def start(*args: str, name: str = "ttyAVR") -> SimulatedAVR:
        avr = SimulatedAVR(
            simavr_harness, [str(a) for a in args], str(tmp_path / name), stderr_path=tmp_path / f"{name}.stderr"
        ).start()
        started.append(avr)
        return avr

    yield start
    for avr in started:
        avr.stop()
