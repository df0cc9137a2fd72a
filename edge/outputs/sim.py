"""``sim://`` — a simulated rig that records every frame it receives (for the demo, tests and pictures)."""

from __future__ import annotations

import numpy as np

from edge.outputs.base import ActuatorOutput, HapticFrame, OutputURL


class SimOutput(ActuatorOutput):
    """Records every written frame; ``state`` is what the motors would be doing right now.

    ``frames`` holds (t_s, intensities (n_channels,)) for each write and each zeroing, in order, so a test can
    check that the last thing a motor saw was zero.
    """

    def __init__(self, url: str = "sim://", n_channels: int = 16) -> None:
        super().__init__(url, n_channels)
        self.frames: list[tuple[float, np.ndarray]] = []
        self.state = np.zeros(n_channels, dtype=np.float32)
        self._last_t_s = 0.0

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None) -> "SimOutput":
        return cls(url.url, url.int_param("channels", n_channels or 16))

    def _write(self, frame: HapticFrame) -> None:
        self.state = frame.intensities.copy()
        self._last_t_s = frame.t_s
        self.frames.append((frame.t_s, self.state))

    def _zero(self) -> None:
        self.state = np.zeros(self.n_channels, dtype=np.float32)
        self.frames.append((self._last_t_s, self.state))

    def history(self) -> np.ndarray:
        """All recorded intensities as (n_frames, n_channels) float32."""
        if not self.frames:
            return np.zeros((0, self.n_channels), dtype=np.float32)
        return np.stack([intensities for _, intensities in self.frames])
