"""The renderer contract between analysis and actuator outputs."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.analysis import Analysis


class Renderer(Protocol):
    """Turns analysis into per-actuator intensities. Pure numpy; stateful renderers obey ``edge.stream``."""

    n_channels: int

    def reset(self) -> None: ...

    def process(self, analysis: Analysis) -> np.ndarray:
        """Return (analysis.n_frames, n_channels) float32 intensities in [0, 1]."""
        ...
