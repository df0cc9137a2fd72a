"""A rendering of a synthetic song with known drum hits on the bundled vest (DSP-only: fast, no pack)."""

from __future__ import annotations

import pytest

from edge.haptogram import Haptogram, compute_haptogram
from edge.rig import default_rig, load_rig
from tests.edge.haptics.signals import band_limited_song


@pytest.fixture(scope="session")
def vest_rendering() -> Haptogram:
    mixture, _, _ = band_limited_song(4.0)
    return compute_haptogram(mixture, default_rig(), None, "song")


@pytest.fixture(scope="session")
def band_rendering() -> Haptogram:
    """The 4-LRA wrist band: its total power cap never scales a mono mix played on all four."""
    mixture, _, _ = band_limited_song(4.0)
    return compute_haptogram(mixture, load_rig("wristband-drv2605"), None, "song")
