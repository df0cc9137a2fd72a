"""The actuator output contract: every output (sim, GPIO, I2C chips, firmware links, audio) is opened by URL
and receives :class:`HapticFrame` objects at the control rate (one per hop).

Lifecycle rules (STYLE.md #13): an output is a context manager; ``close()`` drives every channel to zero first
and is idempotent; ``zero()`` may be called at any time, also after a fault.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from edge.errors import ConfigError


@dataclass(frozen=True)
class HapticFrame:
    """One control-rate update for an output.

    ``intensities``: (n_channels,) float32, each in [0, 1] (0 = off, 1 = the channel's configured maximum).
    ``t_s``: stream time in seconds of the end of the audio hop this frame was rendered from.
    ``audio``: optional (n_samples,) or (n_samples, n_audio_channels) float32 in [-1, 1], the audio-rate drive for
    voice-coil transducers / bass shakers (``audio://``); outputs that drive motors ignore it.
    """

    t_s: float
    intensities: np.ndarray
    audio: np.ndarray | None = None


class ActuatorOutput(abc.ABC):
    """Base of every actuator output. Subclasses implement ``_write`` and ``_zero`` (and ``_release``)."""

    url: str
    n_channels: int

    def __init__(self, url: str, n_channels: int) -> None:
        if n_channels < 1:
            raise ConfigError(f"output {url!r}: n_channels must be >= 1, got {n_channels}")
        self.url = url
        self.n_channels = n_channels
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, frame: HapticFrame) -> None:
        """Send one frame. Intensities are validated: shape (n_channels,), finite, within [0, 1]."""
        if self._closed:
            raise ConfigError(f"output {self.url!r} is closed")
        intensities = np.asarray(frame.intensities, dtype=np.float32)
        if intensities.shape != (self.n_channels,):
            raise ConfigError(
                f"output {self.url!r}: frame has {intensities.shape} intensities, expected ({self.n_channels},)"
            )
        # NaN fails both comparisons and an infinity one of them: this also proves every value finite
        if not (intensities.min() >= 0.0 and intensities.max() <= 1.0):
            raise ConfigError(f"output {self.url!r}: intensities must be finite and within [0, 1]")
        self._write(frame if intensities is frame.intensities else
                    HapticFrame(t_s=frame.t_s, intensities=intensities, audio=frame.audio))

    def zero(self) -> None:
        """Drive every channel to zero now. Safe to call repeatedly and after a fault."""
        if not self._closed:
            self._zero()

    def close(self) -> None:
        """Zero every channel, then release the device. Idempotent."""
        if self._closed:
            return
        try:
            self._zero()
        finally:
            self._closed = True
            self._release()

    @abc.abstractmethod
    def _write(self, frame: HapticFrame) -> None: ...

    @abc.abstractmethod
    def _zero(self) -> None: ...

    def _release(self) -> None:
        """Release buses, pins, ports. Called once, after ``_zero``."""

    def __enter__(self) -> "ActuatorOutput":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, n_channels={self.n_channels})"


@dataclass(frozen=True)
class RoutedOutput:
    """An open output and which rig actuators drive its channels.

    ``actuator_indices``: (output.n_channels,) int — channel c of ``output`` gets the intensity of rig actuator
    ``actuator_indices[c]``.
    """

    output: ActuatorOutput
    actuator_indices: np.ndarray

    def reset(self) -> None:
        """Forget the route's per-stream state (a plain route has none; see ``CarrierRoutedOutput``)."""

    def write(self, t_s: float, intensities_per_actuator: np.ndarray, audio: np.ndarray | None = None) -> None:
        """Send the channels of this output from a (n_actuators,) rig-wide intensity vector."""
        self.output.write(HapticFrame(t_s=t_s, intensities=intensities_per_actuator[self.actuator_indices], audio=audio))
