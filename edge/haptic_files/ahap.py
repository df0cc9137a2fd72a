"""Apple Haptic and Audio Pattern (``.ahap``) files, as Core Haptics loads them.

Layout (Apple, "Representing haptic patterns in AHAP files"): ``Version`` (number), optional ``Metadata``,
``Pattern``: a list of entries, each an ``Event`` {Time, EventType (HapticTransient, HapticContinuous,
AudioCustom, AudioContinuous), EventDuration (continuous events), EventParameters [{ParameterID,
ParameterValue}]}, a ``Parameter`` {ParameterID, Time, ParameterValue} or a ``ParameterCurve`` {ParameterID,
Time, ParameterCurveControlPoints [{Time relative to the curve, ParameterValue}]}. HapticIntensity and
HapticSharpness are in [0, 1]; the HapticIntensityControl curve multiplies intensity by [0, 1] and is
interpolated linearly. Limits we keep (those Meta's own .haptic -> .ahap converter keeps): at most 16 control
points per curve and continuous events of at most 30 s. Core Haptics clamps out-of-range values, so reading
does too; wrong types and structure are errors naming the field.

Intensity mapping: as in Meta's converter, AHAP intensity = sqrt(our intensity, the drive amplitude), and we
square it when reading. We write continuous events at intensity 1 shaped by HapticIntensityControl curves (to
within ``tolerance`` of the track) and a HapticTransient on each drum hit (at the hit's peak, so it marks the
hit without changing it); reading plays each transient for one frame at its intensity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import edge
from edge.errors import ConfigError
from edge.haptic_files.json_fields import Fields, load_json, write_json
from edge.haptic_files.track import HapticTrack, frame_of, n_frames_for, simplify

MAX_CONTROL_POINTS = 16
MAX_CONTINUOUS_S = 30.0
CONTINUOUS_SHARPNESS = 0.3
TRANSIENT_SHARPNESS = 0.7
EVENT_TYPES = ("HapticTransient", "HapticContinuous", "AudioCustom", "AudioContinuous")
INTENSITY_CONTROL = "HapticIntensityControl"


def _parameters(intensity: float, sharpness: float) -> list[dict[str, Any]]:
    return [
        {"ParameterID": "HapticIntensity", "ParameterValue": round(intensity, 6)},
        {"ParameterID": "HapticSharpness", "ParameterValue": sharpness},
    ]


def to_document(track: HapticTrack, tolerance: float) -> dict[str, Any]:
    """The AHAP document of a one-channel ``track``."""
    if len(track.channel_names) != 1:
        raise ConfigError(
            f"an .ahap file holds one channel, the track has {len(track.channel_names)}: "
            f"write one file per channel (--channels groups) or a mix (--channels mix)"
        )
    rate = track.frame_rate_hz
    intensity = np.sqrt(np.clip(track.intensities[:, 0].astype(np.float64), 0.0, 1.0))
    transients = np.asarray(track.transient_frames[0], dtype=np.int64)
    # squaring on playback at most doubles the error: |a^2 - b^2| <= |a - b| * 2
    points = simplify(intensity, tolerance / 2, transients)
    pattern: list[dict[str, Any]] = []
    duration_s = max((track.n_frames - 1) / rate, 1.0 / rate)
    start_s = 0.0
    while start_s < duration_s - 1e-9:
        length_s = min(MAX_CONTINUOUS_S, duration_s - start_s)
        pattern.append(
            {
                "Event": {
                    "Time": round(start_s, 6),
                    "EventType": "HapticContinuous",
                    "EventDuration": round(length_s, 6),
                    "EventParameters": _parameters(1.0, CONTINUOUS_SHARPNESS),
                }
            }
        )
        start_s += length_s
    for first in range(0, max(len(points) - 1, 1), MAX_CONTROL_POINTS - 1):  # consecutive curves share a point
        chunk = points[first : first + MAX_CONTROL_POINTS]
        curve_start_s = chunk[0] / rate
        pattern.append(
            {
                "ParameterCurve": {
                    "ParameterID": INTENSITY_CONTROL,
                    "Time": round(curve_start_s, 6),
                    "ParameterCurveControlPoints": [
                        {
                            "Time": round(frame / rate - curve_start_s, 6),
                            "ParameterValue": round(float(intensity[frame]), 6),
                        }
                        for frame in chunk
                    ],
                }
            }
        )
    for frame in transients:
        pattern.append(
            {
                "Event": {
                    "Time": round(frame / rate, 6),
                    "EventType": "HapticTransient",
                    "EventParameters": _parameters(float(intensity[frame]), TRANSIENT_SHARPNESS),
                }
            }
        )
    return {
        "Version": 1.0,
        "Metadata": {
            "Project": track.description,
            "Created": f"SENSE {edge.__version__}",
            "Description": f"channel {track.channel_names[0]}",
        },
        "Pattern": pattern,
    }


def write(track: HapticTrack, path: Path, tolerance: float) -> None:
    document = to_document(track, tolerance)
    from_document(document, path, track.frame_rate_hz)  # what we write must read back
    write_json(document, path)


def _clamped(fields: Fields, key: str, default: Any = ...) -> float:
    value = fields.number(key) if default is ... else fields.number(key, default)
    return min(max(value, 0.0), 1.0)


def _event_parameters(event: Fields) -> dict[str, float]:
    values = {"HapticIntensity": 1.0, "HapticSharpness": 0.5}
    for index, raw in enumerate(event.list("EventParameters", [])):
        parameter = Fields(event.path, raw, f"{event.at('EventParameters')}[{index}]")
        name = parameter.string("ParameterID")
        value = parameter.number("ParameterValue")
        if name in values:
            values[name] = min(max(value, 0.0), 1.0)
    return values


def from_document(document: Any, path: Path, frame_rate_hz: float) -> HapticTrack:
    root = Fields(path, document, "")
    if root.has("Version"):
        root.number("Version", low=0.0)
    continuous: list[tuple[float, float, float]] = []  # start s, end s, intensity
    transients: list[tuple[float, float]] = []  # time s, intensity
    controls: list[tuple[float, np.ndarray, np.ndarray]] = []  # start s, absolute times s, values
    for index, raw in enumerate(root.list("Pattern")):
        entry = Fields(path, raw, f"Pattern[{index}]")
        kinds = [key for key in ("Event", "Parameter", "ParameterCurve") if entry.has(key)]
        if len(kinds) != 1:
            raise entry.error_at(
                entry.where, f"has {kinds or list(entry.value)}", "exactly one of Event, Parameter, ParameterCurve"
            )
        if kinds[0] == "Event":
            event = entry.object("Event")
            time_s = event.number("Time", 0.0, low=0.0)
            event_type = event.string("EventType")
            if event_type not in EVENT_TYPES:
                raise event.error_at(event.at("EventType"), f"is {event_type!r}", f"one of {', '.join(EVENT_TYPES)}")
            parameters = _event_parameters(event)
            if event_type == "HapticContinuous":
                duration_s = event.number("EventDuration", low=0.0)
                continuous.append((time_s, time_s + duration_s, parameters["HapticIntensity"]))
            elif event_type == "HapticTransient":
                transients.append((time_s, parameters["HapticIntensity"]))
        elif kinds[0] == "Parameter":
            parameter = entry.object("Parameter")
            name = parameter.string("ParameterID")
            time_s = parameter.number("Time", 0.0, low=0.0)
            value = _clamped(parameter, "ParameterValue")
            if name == INTENSITY_CONTROL:
                controls.append((time_s, np.array([time_s]), np.array([value])))
        else:
            curve = entry.object("ParameterCurve")
            name = curve.string("ParameterID")
            start_s = curve.number("Time", 0.0, low=0.0)
            raw_points = curve.list("ParameterCurveControlPoints", min_items=1)
            if len(raw_points) > MAX_CONTROL_POINTS:
                raise curve.error_at(
                    curve.at("ParameterCurveControlPoints"),
                    f"has {len(raw_points)} control points",
                    f"at most {MAX_CONTROL_POINTS}",
                )
            times: list[float] = []
            values: list[float] = []
            for point_index, raw_point in enumerate(raw_points):
                point = Fields(path, raw_point, f"{curve.at('ParameterCurveControlPoints')}[{point_index}]")
                relative_s = point.number("Time", low=0.0)
                if times and start_s + relative_s < times[-1]:
                    raise point.error_at(
                        point.at("Time"),
                        f"{relative_s} comes before the previous point",
                        "control point times that never decrease",
                    )
                times.append(start_s + relative_s)
                values.append(_clamped(point, "ParameterValue"))
            if name == INTENSITY_CONTROL:
                controls.append((start_s, np.array(times), np.array(values)))
    ends = [end for _, end, _ in continuous] + [time for time, _ in transients]
    if not ends:
        raise root.error_at("Pattern", "has no haptic events", "at least one HapticTransient or HapticContinuous event")
    n_frames = n_frames_for(max(ends), frame_rate_hz)
    t_s = np.arange(n_frames) / frame_rate_hz
    control = np.ones(n_frames)
    for start_s, curve_times, curve_values in sorted(controls, key=lambda item: item[0]):  # a later curve takes over
        after = t_s >= start_s - 1e-9
        control[after] = np.interp(t_s[after], curve_times, curve_values)
    level = np.zeros(n_frames)
    for start_s, end_s, intensity in continuous:
        active = (t_s >= start_s - 1e-9) & (t_s <= end_s + 1e-9)
        level[active] = np.maximum(level[active], intensity)
    amplitude = (level * control) ** 2
    frames = []
    for time_s, intensity in transients:
        frame = min(frame_of(time_s, frame_rate_hz), n_frames - 1)
        amplitude[frame] = max(amplitude[frame], intensity**2)
        frames.append(frame)
    metadata = document.get("Metadata", {}) if isinstance(document, dict) else {}
    return HapticTrack(
        frame_rate_hz,
        (path.stem,),
        amplitude.astype(np.float32)[:, None],
        (np.array(sorted(frames), dtype=np.int64),),
        str(metadata.get("Project", "")) if isinstance(metadata, dict) else "",
    )


def read(path: Path, frame_rate_hz: float) -> HapticTrack:
    return from_document(load_json(path), path, frame_rate_hz)
