"""``sense play``: a haptic file felt on a rig, through the same pipeline, outputs and failsafe as ``sense run``.

The file's channels are mapped onto the rig's actuators (by actuator id, by group name, or one channel onto
every actuator of ``group``), held to each actuator's ``max_drive`` and the rig's total power cap, resampled to
the pipeline's frame rate, and paced in real time: a renderer that replays the frames stands in for the
sound-driven one, so every output is zeroed and closed however playback ends (end of file, an error, Ctrl-C,
SIGTERM).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.analysis import Analysis
from edge.audio_source import paced
from edge.errors import ConfigError, HapticFileError
from edge.haptic_files import read_track
from edge.haptic_files.track import HapticTrack
from edge.haptics.spec import ALL_GROUP
from edge.haptics.stages import cap_total_power
from edge.outputs.base import RoutedOutput
from edge.rig import Rig, default_rig, load_rig
from edge.session import open_session
from edge.stream import DEVICE_STREAM

FRAME_RATE_HZ = DEVICE_STREAM.sample_rate_hz / DEVICE_STREAM.hop


def track_on_rig(track: HapticTrack, rig: Rig, group: str | None = None, source: str = "") -> np.ndarray:
    """(n_frames, n_actuators) intensities of ``track`` on ``rig``.

    A channel named like an actuator drives it; one named like a group (or "all") drives the group's actuators;
    a single channel with another name ("mix") drives ``group`` (default: every actuator); otherwise channels
    map by position when there is one per actuator. Where channels overlap an actuator takes the strongest.
    Each actuator is held to its ``max_drive`` and every frame to the rig's total power cap.
    """
    ids = list(rig.actuator_ids)
    groups = {ALL_GROUP: tuple(range(rig.n_actuators)), **rig.spec.groups}
    if group is not None and group not in groups:
        raise ConfigError(f"group {group!r} is not in rig {rig.name!r}; groups: {', '.join(groups)}")
    out = np.zeros((track.n_frames, rig.n_actuators), dtype=np.float32)
    names = track.channel_names
    if len(names) == 1 and names[0] not in ids and names[0] not in groups:
        targets = [groups[group or ALL_GROUP]]
    elif all(name in ids or name in groups for name in names):
        targets = [(ids.index(name),) if name in ids else groups[name] for name in names]
        if group is not None:
            targets = [tuple(i for i in members if i in groups[group]) for members in targets]
    elif len(names) == rig.n_actuators:
        targets = [(index,) for index in range(rig.n_actuators)]
    else:
        unknown = next(name for name in names if name not in ids and name not in groups)
        raise HapticFileError(
            source or track.description or "track",
            f"channel {unknown!r}",
            f"names no actuator or group of rig {rig.name!r} and the file has {len(names)} channels "
            f"for {rig.n_actuators} actuators",
            f"actuator ids ({', '.join(ids)}) or groups ({', '.join(groups)})",
        )
    for channel, members in enumerate(targets):
        if members:
            out[:, list(members)] = np.maximum(out[:, list(members)], track.intensities[:, channel : channel + 1])
    max_drive = np.array([actuator.max_drive for actuator in rig.spec.actuators], dtype=np.float32)
    power = np.array([actuator.power for actuator in rig.spec.actuators], dtype=np.float32)
    held = np.minimum(out, max_drive)
    return cap_total_power(held, power, rig.spec.params.max_total_power).astype(np.float32)


def resample_frames(intensities: np.ndarray, rate_in_hz: float, rate_out_hz: float) -> np.ndarray:
    """(n_in, n_channels) at ``rate_in_hz`` -> (n_out, n_channels) at ``rate_out_hz``, linear, same duration."""
    if abs(rate_in_hz - rate_out_hz) < 1e-9 or len(intensities) == 0:
        return intensities
    n_out = int(np.floor((len(intensities) - 1) * rate_out_hz / rate_in_hz + 1e-6)) + 1
    t_in = np.arange(len(intensities)) / rate_in_hz
    t_out = np.arange(n_out) / rate_out_hz
    return np.stack([np.interp(t_out, t_in, intensities[:, c]) for c in range(intensities.shape[1])], axis=1).astype(
        np.float32
    )


class TrackRenderer:
    """A renderer that replays fixed frames, one per hop, then zeros: the file in place of the sound."""

    def __init__(self, frames: np.ndarray) -> None:
        self.frames = np.asarray(frames, dtype=np.float32)
        self.n_channels = self.frames.shape[1]
        self._next = 0

    def reset(self) -> None:
        self._next = 0

    def process(self, analysis: Analysis) -> np.ndarray:
        start, stop = self._next, self._next + analysis.n_frames
        self._next = stop
        out = np.zeros((analysis.n_frames, self.n_channels), dtype=np.float32)
        chunk = self.frames[start:stop]
        out[: len(chunk)] = chunk
        return out


def paced_silence(n_blocks: int, pace: bool) -> Iterator[np.ndarray]:
    """``n_blocks`` silent hops, each delivered no earlier than its time since the first (when ``pace``)."""
    silence = (np.zeros(DEVICE_STREAM.hop, dtype=np.float32) for _ in range(n_blocks))
    return paced(silence, DEVICE_STREAM.sample_rate_hz) if pace else silence


@dataclass
class PlayResult:
    """What a playback did: the frames sent to the outputs (n_frames, n_actuators) and where."""

    intensities: np.ndarray
    track: HapticTrack
    rig_name: str
    outputs: list[RoutedOutput]
    summary: dict

    @property
    def output_urls(self) -> list[str]:
        return [routed.output.url for routed in self.outputs]


def play_file(
    path: str | Path,
    rig_path: str | None = None,
    output_url: str | None = None,
    group: str | None = None,
    format_name: str | None = None,
    pace: bool = True,
) -> PlayResult:
    """Play the haptic file ``path`` on a rig (default: the simulated vest); returns what was sent."""
    from edge.run import run_until_signal

    track = read_track(path, format_name, FRAME_RATE_HZ)
    rig = load_rig(rig_path) if rig_path is not None else default_rig()
    frames = resample_frames(track_on_rig(track, rig, group, str(path)), track.frame_rate_hz, FRAME_RATE_HZ)
    session = open_session(None, rig, output_url, wrap_renderer=lambda _: TrackRenderer(frames), realtime_budget=None)
    blocks = run_until_signal(session, paced_silence(len(frames), pace))
    sent = [intensities for intensities in blocks]  # a file of finite length: every frame is kept for the result
    return PlayResult(
        intensities=np.concatenate(sent) if sent else np.zeros((0, rig.n_actuators), np.float32),
        track=track,
        rig_name=rig.name,
        outputs=session.outputs,
        summary=session.telemetry.summary(),
    )
