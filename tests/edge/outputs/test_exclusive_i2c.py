"""Two runs cannot drive one I2C address at once: the second is refused with one line naming the bus, the
address and the process holding it (the same rule as ``serial://``'s exclusive open). Another address on the
same bus stays free, a mux another run switches is not (the two would fight over its channel), and the address
is free again once the first run ends. Each run is a process of its own, with its own fake board on bus 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ON_A_FAKE_BOARD = """
import os, sys
from edge.buses.i2c import ENV_I2C_BACKEND
from edge.sim.chips.i2c_wire import FACTORY_SPEC, install_wire
from tests.edge.outputs.conftest import build_fake_board

board = build_fake_board()
install_wire(board.bus_number, board.wire)
os.environ[ENV_I2C_BACKEND] = FACTORY_SPEC
"""
HOLD = (
    ON_A_FAKE_BOARD
    + """
from edge.outputs import open_output

output = open_output(sys.argv[1])
print("READY", flush=True)
sys.stdin.read()
output.close()
"""
)
TRY = (
    ON_A_FAKE_BOARD
    + """
from edge.errors import OutputError
from edge.outputs import open_output

try:
    open_output(sys.argv[1]).close()
    print("OPENED")
except OutputError as error:
    print(f"REFUSED {error}; pca duties {board.pca.duties()}")
"""
)
SENSE_RUN = (
    ON_A_FAKE_BOARD
    + """
from edge.cli import main

sys.argv = ["sense", "run", "--no-models", "--pace", "fast", "--output", sys.argv[1]]
main()
"""
)


def python(script: str, *args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )  # type: ignore[call-overload]


def hold(url: str) -> subprocess.Popen:
    """Another run that opens ``url`` and keeps it until its stdin closes."""
    process = python(HOLD, url, stdin=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == "READY", process.stderr.read() if process.stderr else line
    return process


def release(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(10) == 0


def attempt(url: str) -> str:
    stdout, stderr = python(TRY, url).communicate(timeout=60)
    assert stdout.strip(), stderr
    return stdout.strip()


def test_an_address_driven_by_another_run_is_refused() -> None:
    other = hold("pca9685://1/0x40")
    try:
        refused = attempt("pca9685://1/0x40")
        assert refused.startswith(
            f"REFUSED I2C bus 1 address 0x40 (pca9685://1/0x40): in use by another program (pid {other.pid}, "
        )
        assert refused.endswith(
            "pca duties [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]"
        )
        assert attempt("drv2605://1/0x5a?mux=0x70&mux_channel=0") == "OPENED"  # other addresses on the bus are free
    finally:
        release(other)
    assert attempt("pca9685://1/0x40") == "OPENED"  # free again once the other run ended


def test_a_mux_switched_by_another_run_is_refused_on_every_channel() -> None:
    other = hold("drv2605://1/0x5a?mux=0x70&mux_channel=1")
    try:
        refused = attempt("drv2605://1/0x5a?mux=0x70&mux_channel=2")
        assert refused.startswith("REFUSED I2C bus 1 address 0x70") and "in use by another program" in refused
    finally:
        release(other)


def test_sense_run_on_a_held_address_is_one_line_and_exit_1() -> None:
    other = hold("pca9685://1/0x40")
    try:
        run = python(SENSE_RUN, "pca9685://1/0x40")
        _, stderr = run.communicate(timeout=60)
    finally:
        release(other)
    assert run.returncode == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "I2C bus 1 address 0x40 (pca9685://1/0x40): in use by another program" in lines[0], (
        stderr
    )
