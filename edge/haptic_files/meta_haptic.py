"""Meta ``.haptic`` files, data model version 1.0.0 (Meta Haptics Studio and the Meta Haptics SDK; the format
began as the Lofelt Haptic Data Model, MIT-licensed in the NiceVibrations repository).

Layout: ``version`` {major, minor, patch}; optional ``metadata`` {editor, author, source, project, tags,
description}; ``signals.continuous.envelopes.amplitude``: a non-empty list of breakpoints {time (s, >= 0),
amplitude in [0, 1], optional emphasis {amplitude in [0, 1], frequency in [0, 1]}}; optional
``signals.continuous.envelopes.frequency``: breakpoints {time, frequency in [0, 1]}. Validation rules of the
format: times never decrease along an envelope, values stay in range, an emphasis has both fields and its
amplitude is not below its breakpoint's amplitude. Players interpolate linearly between breakpoints.

We write the amplitude envelope (the rendered intensity, to within ``tolerance``) and an emphasis on the
breakpoint of each drum hit (amplitude = the hit's peak, so the emphasis marks it without changing it). We
play the amplitude envelope, each emphasis raising its breakpoint's frame to the emphasis amplitude; the
frequency envelope is validated but not played (our motors have one frequency each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import edge
from edge.errors import ConfigError
from edge.haptic_files.json_fields import Fields, load_json, write_json
from edge.haptic_files.track import (
    HapticTrack,
    frame_of,
    n_frames_for,
    sample_curve,
    simplify,
)

VERSION = {"major": 1, "minor": 0, "patch": 0}
EMPHASIS_FREQUENCY = 0.7
"""Normalised frequency of the emphasis we write on drum hits: a crisp tap."""


def to_document(track: HapticTrack, tolerance: float) -> dict[str, Any]:
    """The .haptic document of a one-channel ``track``."""
    if len(track.channel_names) != 1:
        raise ConfigError(
            f"a .haptic file holds one channel, the track has {len(track.channel_names)}: "
            f"write one file per channel (--channels groups) or a mix (--channels mix)"
        )
    values = track.intensities[:, 0].astype(np.float64)
    transients = set(int(frame) for frame in track.transient_frames[0])
    breakpoints = []
    for frame in simplify(values, tolerance, np.array(sorted(transients), dtype=np.int64)):
        amplitude = round(float(values[frame]), 6)
        point: dict[str, Any] = {"time": round(frame / track.frame_rate_hz, 6), "amplitude": amplitude}
        if int(frame) in transients:
            point["emphasis"] = {"amplitude": amplitude, "frequency": EMPHASIS_FREQUENCY}
        breakpoints.append(point)
    return {
        "version": dict(VERSION),
        "metadata": {
            "editor": f"SENSE {edge.__version__}",
            "source": track.description,
            "tags": [track.channel_names[0]],
            "description": f"channel {track.channel_names[0]}",
        },
        "signals": {"continuous": {"envelopes": {"amplitude": breakpoints}}},
    }


def write(track: HapticTrack, path: Path, tolerance: float) -> None:
    document = to_document(track, tolerance)
    validate(document, path)
    write_json(document, path)


def _envelope(fields: Fields, key: str, value_key: str, required: bool) -> list[tuple[float, float, Fields]]:
    """(time, value, breakpoint fields) of each breakpoint of ``envelopes.<key>``, times checked."""
    points = fields.list(key, min_items=1) if required else fields.list(key, [])
    out = []
    last_time = 0.0
    for index, raw in enumerate(points):
        point = Fields(fields.path, raw, f"{fields.at(key)}[{index}]")
        time = point.number("time", low=0.0)
        if time < last_time:
            raise point.error_at(point.at("time"), f"{time} comes after {last_time}", "times that never decrease")
        last_time = time
        out.append((time, point.number(value_key, low=0.0, high=1.0), point))
    return out


def validate(document: Any, path: Path) -> tuple[list[tuple[float, float, Fields]], dict[int, float]]:
    """Check ``document`` against the format's rules; return the amplitude breakpoints and the emphasis
    amplitude of each breakpoint index that has one."""
    root = Fields(path, document, "")
    version = root.object("version")
    major = version.integer("major")
    if major != 1:
        raise root.error_at("version.major", f"is {major}", "1 (data model 1.x)")
    version.integer("minor", 0)
    version.integer("patch", 0)
    if root.has("metadata"):
        metadata = root.object("metadata")
        for key in ("editor", "author", "source", "project", "description"):
            if metadata.has(key):
                metadata.string(key)
        for index, tag in enumerate(metadata.list("tags", [])):
            if not isinstance(tag, str):
                raise root.error_at(f"metadata.tags[{index}]", "is not a string", "a list of strings")
    envelopes = root.object("signals").object("continuous").object("envelopes")
    amplitude = _envelope(envelopes, "amplitude", "amplitude", required=True)
    _envelope(envelopes, "frequency", "frequency", required=False)
    emphasis = {}
    for index, (_, value, point) in enumerate(amplitude):
        if point.has("emphasis"):
            fields = point.object("emphasis")
            emphasis_amplitude = fields.number("amplitude", low=0.0, high=1.0)
            fields.number("frequency", low=0.0, high=1.0)
            if emphasis_amplitude < value:
                raise point.error_at(
                    fields.at("amplitude"),
                    f"{emphasis_amplitude} is below the breakpoint's amplitude {value}",
                    "an emphasis at least as strong as its breakpoint",
                )
            emphasis[index] = emphasis_amplitude
    return amplitude, emphasis


def from_document(document: Any, path: Path, frame_rate_hz: float) -> HapticTrack:
    amplitude, emphasis = validate(document, path)
    times = np.array([time for time, _, _ in amplitude])
    values = np.array([value for _, value, _ in amplitude])
    n_frames = n_frames_for(float(times[-1]), frame_rate_hz)
    intensities = sample_curve(times, values, np.arange(n_frames) / frame_rate_hz)
    frames = []
    for index, strength in emphasis.items():
        frame = min(frame_of(float(times[index]), frame_rate_hz), n_frames - 1)
        intensities[frame] = max(float(intensities[frame]), strength)
        frames.append(frame)
    metadata = document.get("metadata", {}) if isinstance(document, dict) else {}
    return HapticTrack(
        frame_rate_hz,
        (path.stem,),
        intensities[:, None],
        (np.array(sorted(frames), dtype=np.int64),),
        str(metadata.get("source", "")),
    )


def read(path: Path, frame_rate_hz: float) -> HapticTrack:
    return from_document(load_json(path), path, frame_rate_hz)
