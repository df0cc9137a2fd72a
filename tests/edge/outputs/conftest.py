"""Fixtures for the output tests: fake I2C boards (or the real bus with ``--i2c-bus N``) and mock GPIO."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from edge.buses.i2c import ENV_I2C_BACKEND, BusFactory, open_buses, smbus2_bus
from edge.sim.chips.drv2605 import FakeDRV2605L
from edge.sim.chips.i2c_wire import FACTORY_SPEC, FakeI2CWire, install_wire, uninstall_wires
from edge.sim.chips.pca9685 import FakePCA9685
from edge.sim.chips.tca9548a import FakeTCA9548A

FAKE_BUS_NUMBER = 1
N_DRV_CHANNELS = 4


@dataclass
class Board:
    """What the tests talk to: a bus number + backend, and (on the fake) the chips to inspect."""

    bus_number: int
    factory: BusFactory
    wire: FakeI2CWire | None = None
    pca: FakePCA9685 | None = None
    mux: FakeTCA9548A | None = None
    drvs: list[FakeDRV2605L] = field(default_factory=list)

    @property
    def is_fake(self) -> bool:
        return self.wire is not None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "board" in metafunc.fixturenames:
        kinds = ["fake"]
        if metafunc.config.getoption("--i2c-bus") is not None:
            kinds.append("real")
        metafunc.parametrize("board", kinds, indirect=True)


def build_fake_board(*, with_pca: bool = True, with_mux: bool = True, clock_hz: float | None = None) -> Board:
    wire = FakeI2CWire(clock_hz=clock_hz)
    board = Board(bus_number=FAKE_BUS_NUMBER, factory=wire.open, wire=wire)
    if with_pca:
        board.pca = wire.add(FakePCA9685(0x40))
    if with_mux:
        board.mux = wire.add(FakeTCA9548A(0x70))
        board.drvs = [board.mux.channels[channel].add(FakeDRV2605L()) for channel in range(N_DRV_CHANNELS)]
    return board


def _assert_no_bus_left_open() -> None:
    """Every output a test opened must have been closed: a bus still open here is a leak in our code."""
    leaked = open_buses()
    for bus in leaked:
        while not bus.closed:
            bus.close()
    assert not leaked, f"buses left open after the test: {leaked}"


def _installed_fake_board(monkeypatch: pytest.MonkeyPatch) -> Iterator[Board]:
    """A fake board installed as bus 1 for code that opens buses by number (open_output, the CLI); afterwards
    no bus may be left open."""
    board = build_fake_board()
    assert board.wire is not None
    install_wire(board.bus_number, board.wire)
    monkeypatch.setenv(ENV_I2C_BACKEND, FACTORY_SPEC)
    yield board
    uninstall_wires()
    _assert_no_bus_left_open()


@pytest.fixture
def fake_board(monkeypatch: pytest.MonkeyPatch) -> Iterator[Board]:
    """The fake board only (tests that inject faults or inspect chip internals)."""
    yield from _installed_fake_board(monkeypatch)


@pytest.fixture
def board(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Board]:
    """The fake board, or (with ``--i2c-bus N``) the real bus N: PCA9685 at 0x40, TCA9548A at 0x70 with a
    DRV2605L and its motor on channel 0."""
    if request.param == "real":
        monkeypatch.delenv(ENV_I2C_BACKEND, raising=False)
        yield Board(bus_number=request.config.getoption("--i2c-bus"), factory=smbus2_bus)
        return
    yield from _installed_fake_board(monkeypatch)
