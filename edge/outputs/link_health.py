"""Link health of a firmware output: which streamed frames the device accepted, lost or got late.

SET_INTENSITIES has no reply (PROTOCOL.md), so the host asks for TELEMETRY now and then and reconciles the
device's counters with what it sent. The device answers requests in order, so a TELEMETRY reply covers every
frame sent before its request: of those, the accepted SET_INTENSITIES are the growth of ``frames_ok`` (every
valid frame the device handled) minus the other frames the host sent meanwhile minus the frames it dropped as
stale; the rest were lost on the way (corrupted, or cut off with a dropped link). The first reply of every
connection is the baseline: the device's counters run since its boot.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from edge.link import codec


@dataclass(frozen=True)
class _Request:
    """One GET_TELEMETRY in flight: when it left and how many frames (all, intensities) had left by then."""

    sent_at_s: float
    n_frames: int
    n_intensity_frames: int


@dataclass(frozen=True)
class _Baseline:
    frames_ok: int
    stale_frames: int
    watchdog_trips: int
    n_other_frames: int
    n_intensity_frames: int


class LinkHealth:
    """Counters of one firmware output across all its connections (see the module docstring)."""

    def __init__(self) -> None:
        self.frames_unsent = 0
        """Frames the stream produced while the link was down (never sent)."""
        self.frames_slow = 0
        """Frames whose write blocked longer than one hop."""
        self.reconnects = 0
        self.messages: list[str] = []
        self._requests: deque[_Request] = deque()
        self._baseline: _Baseline | None = None
        self._done = (0, 0, 0, 0)  # acked, lost, stale, watchdog trips of the connections that ended
        self._now = (0, 0, 0, 0)  # the same for the current connection, as of its last reply

    # ------------------------------------------------------------------------------------------ totals
    @property
    def frames_acked(self) -> int:
        return self._done[0] + self._now[0]

    @property
    def frames_lost(self) -> int:
        return self.frames_unsent + self._done[1] + self._now[1]

    @property
    def frames_late(self) -> int:
        return self.frames_slow + self._done[2] + self._now[2]

    @property
    def watchdog_trips(self) -> int:
        return self._done[3] + self._now[3]

    # ------------------------------------------------------------------------------------------ events
    def connected(self) -> None:
        """A new connection (handshake done): its first reply will be the baseline."""
        self._done = tuple(a + b for a, b in zip(self._done, self._now))  # type: ignore[assignment]
        self._now = (0, 0, 0, 0)
        self._baseline = None
        self._requests.clear()

    def requested(self, session_frames: int, session_intensity_frames: int) -> None:
        """A GET_TELEMETRY just left, after ``session_frames`` frames in all (it included)."""
        self._requests.append(_Request(time.monotonic(), session_frames, session_intensity_frames))

    @property
    def pending(self) -> int:
        return len(self._requests)

    def oldest_request_age_s(self) -> float:
        return time.monotonic() - self._requests[0].sent_at_s if self._requests else 0.0

    def answered(self, telemetry: codec.Telemetry) -> None:
        """The device's reply to the oldest request in flight."""
        if not self._requests:
            return  # somebody else's request (a caller of FirmwareOutput.telemetry())
        request = self._requests.popleft()
        n_other = request.n_frames - request.n_intensity_frames
        if self._baseline is None:
            self._baseline = _Baseline(
                telemetry.frames_ok,
                telemetry.stale_frames,
                telemetry.watchdog_trips,
                n_other,
                request.n_intensity_frames,
            )
            return
        base = self._baseline
        stale = telemetry.stale_frames - base.stale_frames
        accepted = (telemetry.frames_ok - base.frames_ok) - (n_other - base.n_other_frames) - stale
        sent = request.n_intensity_frames - base.n_intensity_frames
        accepted = max(0, min(accepted, sent))
        self._now = (accepted, sent - accepted - stale, stale, telemetry.watchdog_trips - base.watchdog_trips)

    def note(self, message: str) -> None:
        """A one-line event for the summary (kept once; the list stays short)."""
        if message not in self.messages and len(self.messages) < 20:
            self.messages.append(message)
