"""Two runs cannot drive one I2C address at once: the second is refused with one line naming the bus, the
address and the process holding it (the same rule as ``serial://``'s exclusive open). Another address on the
same bus stays free, a mux another run switches is not (the two would fight over its channel), and the address
is free again once the first run ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.errors import OutputError
from edge.outputs import open_output
from tests.edge.outputs.conftest import Board

REPO = Path(__file__).resolve().parents[3]
HOLDER = """
import os, sys
from edge.buses.i2c import ENV_I2C_BACKEND
from edge.outputs import open_output
from edge.sim.chips.i2c_wire import FACTORY_SPEC, install_wire
from tests.edge.outputs.conftest import build_fake_board

board = build_fake_board()
install_wire(board.bus_number, board.wire)
os.environ[ENV_I2C_BACKEND] = FACTORY_SPEC
output = open_output(sys.argv[1])
print("READY", flush=True)
sys.stdin.read()
output.close()
"""


def hold(url: str) -> subprocess.Popen:
    """Another process that opens ``url`` on its own fake board and keeps it until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, url], env={**os.environ, "PYTHONPATH": str(REPO)},
                               cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "READY"
    return process


def release(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(10) == 0


def test_an_address_driven_by_another_run_is_refused(fake_board: Board) -> None:
    other = hold("pca9685://1/0x40")
    try:
        with pytest.raises(OutputError) as refused:
            open_output("pca9685://1/0x40")
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"I2C bus 1 address 0x40 (pca9685://1/0x40): in use by another program (pid {other.pid}, ")
        assert fake_board.pca is not None and fake_board.pca.duties() == [0.0] * 16  # we never touched the chip
        with open_output("drv2605://1/0x5a?mux=0x70&mux_channel=0"):  # other addresses on the bus are free
            pass
    finally:
        release(other)
    with open_output("pca9685://1/0x40"):  # free again once the other run ended
        pass


def test_a_mux_switched_by_another_run_is_refused_on_every_channel(fake_board: Board) -> None:
    other = hold("drv2605://1/0x5a?mux=0x70&mux_channel=1")
    try:
        with pytest.raises(OutputError, match=r"address 0x70 .*in use by another program"):
            open_output("drv2605://1/0x5a?mux=0x70&mux_channel=2")  # the mux itself is switched by the other run
    finally:
        release(other)


def test_sense_run_on_a_held_address_is_one_line(fake_board: Board) -> None:
    from typer.testing import CliRunner

    from edge.cli import app

    other = hold("pca9685://1/0x40")
    try:
        result = CliRunner().invoke(app, ["run", "--no-models", "--pace", "fast", "--output", "pca9685://1/0x40"])
    finally:
        release(other)
    assert result.exit_code == 1 and isinstance(result.exception, OutputError)
    assert "in use by another program" in str(result.exception)
