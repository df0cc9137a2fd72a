"""The actuator output contract: every output (sim, GPIO, I2C chips, firmware links, audio) is opened by URL
and receives :class:`HapticFrame` objects at the control rate (one per hop).

Lifecycle rules (STYLE.md #13): an output is a context manager; ``close()`` drives every channel to zero first
and is idempotent; ``zero()`` may be called at any time, also after a fault.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from types import TracebackType

import numpy as np

from edge.errors import ConfigError, OutputError


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


@dataclass(frozen=True)
class OutputHealth:
    """How well an output's frames reached its actuators, so far.

    ``frames_sent``: frames handed to the device (a bus write or a link frame); ``frames_acked``: frames the device
    confirmed (an I2C write the chips acknowledged; for a firmware link, frames the firmware's telemetry counts as
    accepted); ``frames_lost``: frames that never reached it (sent while the link was down, or sent and not
    accepted); ``frames_late``: frames that left the host more than one hop late (the write blocked) or arrived
    out of order; ``reconnects``: times the link came back; ``watchdog_trips``: times the firmware's failsafe
    zeroed its outputs because frames stopped; ``link_up``: False after a fault the output has not recovered from;
    ``messages``: what the device or the fault said, one line each (failsafe messages, device errors).
    """

    url: str
    link_up: bool = True
    frames_sent: int = 0
    frames_acked: int = 0
    frames_lost: int = 0
    frames_late: int = 0
    reconnects: int = 0
    watchdog_trips: int = 0
    messages: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "messages": list(self.messages)}

    def line(self) -> str:
        """One line for a run summary."""
        text = (
            f"{self.url}: {self.frames_sent} frames sent, {self.frames_acked} acknowledged, {self.frames_lost} lost, "
            f"{self.frames_late} late, {self.reconnects} reconnect{'s' if self.reconnects != 1 else ''}"
        )
        if self.watchdog_trips:
            text += f"; its failsafe zeroed the actuators {self.watchdog_trips} time{'s' if self.watchdog_trips != 1 else ''}"
        return text + ("" if self.link_up else "; LINK DOWN")


_minimum, _maximum = np.minimum.reduce, np.maximum.reduce


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
        self._frames_written = 0
        self._fault = ""

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
        # NaN fails both comparisons and an infinity one of them: this also proves every value finite (the reductions
        # called directly: ndarray.min/max add a Python wrapper, a few k instructions per frame on the Pi profile)
        if not (_minimum(intensities) >= 0.0 and _maximum(intensities) <= 1.0):
            raise ConfigError(f"output {self.url!r}: intensities must be finite and within [0, 1]")
        try:
            self._write(
                frame
                if intensities is frame.intensities
                else HapticFrame(t_s=frame.t_s, intensities=intensities, audio=frame.audio)
            )
        except OutputError as error:
            self._fault = str(error)
            raise
        self._frames_written += 1

    def health(self) -> OutputHealth:
        """Frames written and whether the device still answers. A local output (a bus, pins, a sound card) counts
        a write that returned as acknowledged; firmware links count what the device confirmed."""
        return OutputHealth(
            self.url,
            link_up=not self._fault,
            frames_sent=self._frames_written + bool(self._fault),
            frames_acked=self._frames_written,
            frames_lost=int(bool(self._fault)),
            messages=(self._fault,) if self._fault else (),
        )

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
    _all_in_order: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        # every actuator in rig order (an output that carries the whole rig): frames pass without a gather
        indices = np.asarray(self.actuator_indices)
        object.__setattr__(self, "_all_in_order", bool(np.array_equal(indices, np.arange(indices.size))))

    def reset(self) -> None:
        """Forget the route's per-stream state (a plain route has none; see ``CarrierRoutedOutput``)."""

    def write(self, t_s: float, intensities_per_actuator: np.ndarray, audio: np.ndarray | None = None) -> None:
        """Send the channels of this output from a (n_actuators,) rig-wide intensity vector."""
        intensities = (
            intensities_per_actuator
            if self._all_in_order and intensities_per_actuator.shape[0] == self.actuator_indices.size
            else intensities_per_actuator[self.actuator_indices]
        )
        self.output.write(HapticFrame(t_s, intensities, audio))
