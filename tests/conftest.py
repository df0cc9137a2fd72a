"""Suite-wide pytest options. Hardware runs are opt-in: the same tests run against real hardware when asked."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--i2c-bus",
        type=int,
        default=None,
        metavar="N",
        help="also run the I2C output tests on the real bus /dev/i2c-N (PCA9685 at 0x40; DRV2605L behind a "
        "TCA9548A at 0x70, channel 0)",
    )


@pytest.fixture(autouse=True)
def _private_device_locks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Device locks (edge.buses.device_lock) of each test in a directory of its own: test runs side by side on one
    machine (fake bus 1 in each) do not refuse each other's outputs, nor does a device an earlier test left open."""
    monkeypatch.setenv("SENSE_LOCK_DIR", str(tmp_path_factory.mktemp("device-locks")))  # device_lock.ENV_LOCK_DIR
