"""From a rendering (what the live renderer produced for a sound on a rig) to haptic files: one channel per
actuator, per actuator group or one mono mix, drum onsets as transients."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.errors import ConfigError
from edge.haptic_files import FORMATS, MULTI_CHANNEL_FORMATS, write_track
from edge.haptic_files.track import HapticTrack
from edge.rig import Rig

CHANNEL_LAYOUTS = ("actuators", "groups", "mix")
MIX_CHANNEL = "mix"
TRANSIENT_WINDOW_S = 0.05
"""A drum onset's transient goes on the frame where the channel peaks within this long after the onset."""
TRANSIENT_MIN_INTENSITY = 0.1
"""An onset marks a channel when one of its actuators rises at least this much right after it."""


def default_layout(format_name: str) -> str:
    """Tables keep every actuator; phone and controller formats (one vibrator) get the mix."""
    return "actuators" if format_name in ("csv", "wav") else MIX_CHANNEL


def channels_of(intensities: np.ndarray, rig: Rig, layout: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, (n_frames, n_channels)) of ``intensities`` (n_frames, n_actuators) in ``layout``: each group
    and the mix take the strongest of their actuators in each frame."""
    if layout == "actuators":
        return rig.actuator_ids, intensities
    if layout == MIX_CHANNEL:
        return (MIX_CHANNEL,), intensities.max(axis=1, keepdims=True, initial=0.0)
    if layout == "groups":
        if not rig.spec.groups:
            raise ConfigError(f"rig {rig.name!r} has no groups; use --channels actuators or --channels mix")
        names = tuple(rig.spec.groups)
        return names, np.stack([intensities[:, list(rig.spec.groups[name])].max(axis=1) for name in names], axis=1)
    raise ConfigError(f"channel layout {layout!r} unknown; expected one of {', '.join(CHANNEL_LAYOUTS)}")


def transient_frames(
    members: np.ndarray, channel: np.ndarray, onset_frames: np.ndarray, frame_rate_hz: float
) -> np.ndarray:
    """Per onset that one of the channel's actuators feels — ``members`` (n_frames, n_members) rises within
    TRANSIENT_WINDOW_S after it to at least TRANSIENT_MIN_INTENSITY above the frame before — the frame where
    ``channel`` (n_frames,) peaks in that window."""
    window = max(1, int(round(TRANSIENT_WINDOW_S * frame_rate_hz)))
    frames = set()
    for onset in onset_frames:
        start, stop = max(int(onset), 0), min(int(onset) + window + 1, len(channel))
        if start >= stop:
            continue
        before = members[start - 1] if start > 0 else np.zeros(members.shape[1])
        if np.any(members[start:stop].max(axis=0) - before >= TRANSIENT_MIN_INTENSITY):
            frames.add(start + int(np.argmax(channel[start:stop])))
    return np.array(sorted(frames), dtype=np.int64)


def track_from_rendering(
    intensities: np.ndarray, frame_rate_hz: float, onsets_s: np.ndarray, rig: Rig, layout: str, description: str = ""
) -> HapticTrack:
    """A track of the rendered ``intensities`` (n_frames, n_actuators); rendered frame k (the hop that ends at
    (k + 1) / frame_rate_hz) becomes track frame k (at k / frame_rate_hz)."""
    intensities = np.asarray(intensities, dtype=np.float32)
    names, channels = channels_of(intensities, rig, layout)
    members = {
        "actuators": [[index] for index in range(rig.n_actuators)],
        MIX_CHANNEL: [list(range(rig.n_actuators))],
        "groups": [list(rig.spec.groups.get(name, ())) for name in names],
    }[layout]
    onset_frames = np.round(np.asarray(onsets_s) * frame_rate_hz).astype(np.int64) - 1
    transients = tuple(
        transient_frames(intensities[:, members[index]], channels[:, index], onset_frames, frame_rate_hz)
        for index in range(len(names))
    )
    return HapticTrack(frame_rate_hz, names, channels, transients, description)


def write_rendering(track: HapticTrack, out: Path, format_name: str, tolerance: float) -> list[Path]:
    """Write ``track`` to ``out``; a single-channel format with several channels gets one file per channel,
    named ``OUT-STEM.CHANNEL.SUFFIX``."""
    if format_name in MULTI_CHANNEL_FORMATS or len(track.channel_names) == 1:
        return [write_track(track, out, format_name, tolerance)]
    suffix = out.suffix or FORMATS[format_name]
    return [
        write_track(track.channel(index), out.with_name(f"{out.stem}.{name}{suffix}"), format_name, tolerance)
        for index, name in enumerate(track.channel_names)
    ]
