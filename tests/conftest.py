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
