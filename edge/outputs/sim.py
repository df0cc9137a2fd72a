"""``sim://`` — a simulated rig that records the frames it receives (for the demo, tests and pictures)."""

from __future__ import annotations

from collections import deque

import numpy as np

from edge.errors import ConfigError
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame


HISTORY_FRAMES = 1 << 14
"""Frames a :class:`SimOutput` keeps (131 s of 8 ms hops, ~3 MB): a run of any length stays in constant memory."""


class SimOutput(ActuatorOutput):
    """Records the written frames; ``state`` is what the motors would be doing right now.

    ``frames`` holds (t_s, intensities (n_channels,)) for each write and each zeroing, in order — the last
    :data:`HISTORY_FRAMES` of them — so a test can check that the last thing a motor saw was zero.
    """

    def __init__(self, url: str = "sim://", n_channels: int = 16, live_view: bool = False) -> None:
        super().__init__(url, n_channels)
        self.frames: deque[tuple[float, np.ndarray]] = deque(maxlen=HISTORY_FRAMES)
        self.state = np.zeros(n_channels, dtype=np.float32)
        self._last_t_s = 0.0
        self.view = None
        if live_view:  # ``sim://?view=live``: draw the rig in the terminal (edge.outputs.terminal_view)
            from edge.outputs.terminal_view import TerminalView

            self.view = TerminalView(n_channels)

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None) -> "SimOutput":
        view = url.query.get("view", "")
        if view not in ("", "live"):
            raise ConfigError(f"output URL {url.url!r}: view={view!r}; expected view=live or no view")
        return cls(url.url, url.int_param("channels", n_channels or 16), live_view=view == "live")

    def set_layout(self, actuators: list) -> None:
        """The rig's actuators on this output's channels, for the live view (called by ``Rig.open_outputs``)."""
        if self.view is not None:
            self.view.set_layout(actuators)

    def _write(self, frame: HapticFrame) -> None:
        self.state = frame.intensities.copy()
        self._last_t_s = frame.t_s
        self.frames.append((frame.t_s, self.state))
        if self.view is not None:
            self.view.update(self.state, frame.t_s)

    def _zero(self) -> None:
        self.state = np.zeros(self.n_channels, dtype=np.float32)
        self.frames.append((self._last_t_s, self.state))
        if self.view is not None:
            self.view.update(self.state, self._last_t_s, force=True)

    def _release(self) -> None:
        if self.view is not None:
            self.view.close()

    def history(self) -> np.ndarray:
        """The recorded intensities (the last :data:`HISTORY_FRAMES`) as (n_frames, n_channels) float32."""
        if not self.frames:
            return np.zeros((0, self.n_channels), dtype=np.float32)
        return np.stack([intensities for _, intensities in self.frames])
