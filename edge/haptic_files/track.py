"""The in-memory haptic track every file format converts to and from, and the curve helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.stream import DEVICE_STREAM

DEFAULT_FRAME_RATE_HZ = DEVICE_STREAM.sample_rate_hz / DEVICE_STREAM.hop
"""The pipeline's control rate (one frame per 8 ms hop): breakpoint files are sampled at it when read."""


@dataclass(frozen=True)
class HapticTrack:
    """Named channels of intensities at a fixed frame rate, with the transients on each channel.

    ``intensities``: (n_frames, n_channels) float32 in [0, 1]; frame k is at ``k / frame_rate_hz`` seconds.
    ``channel_names``: (n_channels,) names — actuator ids, group names or "mix".
    ``transient_frames``: per channel, the frame indices that carry a transient (a drum hit): formats with
    transients (``.haptic`` emphasis, AHAP ``HapticTransient``) write one there with the frame's intensity.
    """

    frame_rate_hz: float
    channel_names: tuple[str, ...]
    intensities: np.ndarray
    transient_frames: tuple[np.ndarray, ...] = field(default=())
    description: str = ""

    def __post_init__(self) -> None:
        intensities = np.asarray(self.intensities, dtype=np.float32)
        if intensities.ndim != 2 or intensities.shape[1] != len(self.channel_names):
            raise ValueError(f"intensities {intensities.shape} do not match {len(self.channel_names)} channel names")
        object.__setattr__(self, "intensities", intensities)
        if not self.transient_frames:
            empty = tuple(np.zeros(0, dtype=np.int64) for _ in self.channel_names)
            object.__setattr__(self, "transient_frames", empty)

    @property
    def n_frames(self) -> int:
        return int(self.intensities.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.frame_rate_hz

    @property
    def t_s(self) -> np.ndarray:
        """(n_frames,) time of each frame in seconds."""
        return np.arange(self.n_frames) / self.frame_rate_hz

    def channel(self, index: int) -> HapticTrack:
        """Channel ``index`` alone, as a one-channel track."""
        return HapticTrack(
            self.frame_rate_hz,
            (self.channel_names[index],),
            self.intensities[:, index : index + 1],
            (self.transient_frames[index],),
            self.description,
        )


def simplify(values: np.ndarray, tolerance: float, keep: np.ndarray | None = None) -> np.ndarray:
    """Indices of the breakpoints of a piecewise-linear curve through ``values`` (n,) that stays within
    ``tolerance`` of every value (Ramer–Douglas–Peucker on the vertical distance). The first and last
    index and every index in ``keep`` are always breakpoints."""
    n = len(values)
    if n <= 2:
        return np.arange(n)
    anchors = np.unique(np.concatenate([[0, n - 1], np.asarray(keep if keep is not None else [], dtype=np.int64)]))
    chosen = np.zeros(n, dtype=bool)
    chosen[anchors] = True
    stack = [(int(a), int(b)) for a, b in zip(anchors[:-1], anchors[1:])]
    while stack:
        start, stop = stack.pop()
        if stop - start < 2:
            continue
        inner = np.arange(start + 1, stop)
        line = values[start] + (values[stop] - values[start]) * (inner - start) / (stop - start)
        errors = np.abs(values[inner] - line)
        worst = int(np.argmax(errors))
        if errors[worst] > tolerance:
            split = int(inner[worst])
            chosen[split] = True
            stack.extend([(start, split), (split, stop)])
    return np.flatnonzero(chosen)


def sample_curve(times_s: np.ndarray, values: np.ndarray, frame_times_s: np.ndarray) -> np.ndarray:
    """A piecewise-linear curve through (``times_s``, ``values``) at ``frame_times_s``; 0 outside it."""
    if len(times_s) == 0:
        return np.zeros(len(frame_times_s), dtype=np.float32)
    inside = (frame_times_s >= times_s[0]) & (frame_times_s <= times_s[-1])
    return np.where(inside, np.interp(frame_times_s, times_s, values), 0.0).astype(np.float32)


def n_frames_for(duration_s: float, frame_rate_hz: float) -> int:
    """Frames needed to cover ``duration_s`` (the frame at the end time included)."""
    return int(np.floor(duration_s * frame_rate_hz + 1e-6)) + 1


def frame_of(time_s: float, frame_rate_hz: float) -> int:
    """The frame nearest ``time_s``."""
    return int(round(time_s * frame_rate_hz))


def quantize_down(values: np.ndarray, full_scale: float) -> np.ndarray:
    """``values`` in [0, 1] as whole steps of 1/``full_scale``, rounded down (to within float noise), so a
    quantized frame never exceeds what was rendered and the rig's power cap still holds on playback."""
    return np.floor(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0) * full_scale + 1e-6).astype(np.int64)
