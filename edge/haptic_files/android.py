"""Android vibration arrays (``.json``): per vibrator, the arrays an app passes to
``VibrationEffect.createWaveform(long[] timings, int[] amplitudes, int repeat)`` (API 26) and to
``VibrationEffect.BasicEnvelopeBuilder.addControlPoint(float intensity, float sharpness, long durationMillis)``
(API 36); several vibrators play together through ``CombinedVibration.createParallel``.

Rules from the Android reference: ``timings`` are milliseconds >= 0 (not cumulative), one per amplitude;
amplitudes are 0..255 or -1 (``DEFAULT_AMPLITUDE``, played here as full scale); ``repeat`` is -1 or an index
into ``timings``. Envelope control points have intensity and sharpness in [0, 1]; the builder starts at
intensity 0 and an effect must end with a zero-intensity point; devices that support envelopes guarantee
control-point durations from 20 ms to 1 s, so we write only those.

The document: {"format": "sense-android-vibration", "version": 1, "vibrators": [{"name", "waveform":
{"timings", "amplitudes", "repeat"}, "basicEnvelope": [{"intensity", "sharpness", "durationMillis"}]}]}.
The waveform holds our 8 ms frames to one step of 1/255 (rounded down) and is what ``sense play`` plays; the envelope follows the
track to within ``tolerance`` where its 20 ms steps allow (``sense play`` uses it only without a waveform).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ConfigError
from edge.haptic_files.json_fields import Fields, load_json, write_json
from edge.haptic_files.track import HapticTrack, quantize_down, simplify

FORMAT_NAME = "sense-android-vibration"
MAX_AMPLITUDE = 255
DEFAULT_AMPLITUDE = -1
MIN_CONTROL_POINT_MS = 20
MAX_CONTROL_POINT_MS = 1000
ENVELOPE_SHARPNESS = 0.5


def _frame_ms(frame_rate_hz: float) -> int:
    frame_ms = 1000.0 / frame_rate_hz
    if abs(frame_ms - round(frame_ms)) > 1e-6:
        raise ConfigError(
            f"Android timings are whole milliseconds; a {frame_rate_hz:g} frames/s track has {frame_ms:g} ms "
            "frames (write it from a rendering, or as CSV/WAV)"
        )
    return int(round(frame_ms))


def waveform_arrays(values: np.ndarray, frame_ms: int) -> tuple[list[int], list[int]]:
    """(timings, amplitudes) of ``values`` (n_frames,) in [0, 1]: runs of equal 0..255 amplitude."""
    amplitudes = quantize_down(values, MAX_AMPLITUDE)
    starts = np.flatnonzero(np.concatenate([[True], amplitudes[1:] != amplitudes[:-1]]))
    lengths = np.diff(np.concatenate([starts, [len(amplitudes)]]))
    return [int(n) * frame_ms for n in lengths], [int(a) for a in amplitudes[starts]]


def envelope_points(values: np.ndarray, frame_ms: int, tolerance: float) -> list[dict[str, Any]]:
    """BasicEnvelopeBuilder control points following ``values``, durations within [20, 1000] ms, ending at 0."""
    kept = [int(k) for k in simplify(values.astype(np.float64), tolerance)]
    points: list[dict[str, Any]] = []
    last_ms = 0
    for frame in kept:
        time_ms = frame * frame_ms
        if time_ms - last_ms < MIN_CONTROL_POINT_MS:
            continue
        while time_ms - last_ms > MAX_CONTROL_POINT_MS:  # split long ramps with points on the line
            step_ms = last_ms + MAX_CONTROL_POINT_MS
            value = float(np.interp(step_ms, np.arange(len(values)) * frame_ms, values))
            points.append(
                {"intensity": round(value, 4), "sharpness": ENVELOPE_SHARPNESS, "durationMillis": MAX_CONTROL_POINT_MS}
            )
            last_ms = step_ms
        points.append(
            {
                "intensity": round(float(values[frame]), 4),
                "sharpness": ENVELOPE_SHARPNESS,
                "durationMillis": time_ms - last_ms,
            }
        )
        last_ms = time_ms
    points.append({"intensity": 0.0, "sharpness": ENVELOPE_SHARPNESS, "durationMillis": MIN_CONTROL_POINT_MS})
    return points


def write(track: HapticTrack, path: Path, tolerance: float) -> None:
    frame_ms = _frame_ms(track.frame_rate_hz)
    vibrators = []
    for index, name in enumerate(track.channel_names):
        values = track.intensities[:, index]
        timings, amplitudes = waveform_arrays(values, frame_ms)
        vibrators.append(
            {
                "name": name,
                "waveform": {"timings": timings, "amplitudes": amplitudes, "repeat": -1},
                "basicEnvelope": envelope_points(values, frame_ms, tolerance),
            }
        )
    document = {"format": FORMAT_NAME, "version": 1, "description": track.description, "vibrators": vibrators}
    from_document(document, path, track.frame_rate_hz)  # what we write must read back
    write_json(document, path)


def _waveform(fields: Fields) -> tuple[np.ndarray, np.ndarray]:
    """Validated (timings ms, amplitudes in [0, 1]) of a ``waveform`` object."""
    timings = fields.list("timings", min_items=1)
    amplitudes = fields.list("amplitudes", min_items=1)
    if len(timings) != len(amplitudes):
        raise fields.error_at(
            fields.at("amplitudes"),
            f"has {len(amplitudes)} entries, timings {len(timings)}",
            "one amplitude per timing",
        )
    for index, timing in enumerate(timings):
        if isinstance(timing, bool) or not isinstance(timing, int) or timing < 0:
            raise fields.error_at(f"{fields.at('timings')}[{index}]", f"is {timing!r}", "whole milliseconds >= 0")
    for index, amplitude in enumerate(amplitudes):
        if (
            isinstance(amplitude, bool)
            or not isinstance(amplitude, int)
            or not (0 <= amplitude <= MAX_AMPLITUDE or amplitude == DEFAULT_AMPLITUDE)
        ):
            raise fields.error_at(
                f"{fields.at('amplitudes')}[{index}]",
                f"is {amplitude!r}",
                "an integer 0..255 or -1 (DEFAULT_AMPLITUDE)",
            )
    repeat = fields.integer("repeat", -1)
    if not -1 <= repeat < len(timings):
        raise fields.error_at(fields.at("repeat"), f"is {repeat}", f"-1 or an index below {len(timings)}")
    levels = np.array([MAX_AMPLITUDE if a == DEFAULT_AMPLITUDE else a for a in amplitudes], dtype=np.float64)
    return np.array(timings, dtype=np.int64), levels / MAX_AMPLITUDE


def _envelope(fields: Fields, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated (times ms, intensities) of a ``basicEnvelope`` list, starting from (0, 0)."""
    raw_points = fields.list(key, min_items=1)
    times, values = [0.0], [0.0]
    for index, raw in enumerate(raw_points):
        point = Fields(fields.path, raw, f"{fields.at(key)}[{index}]")
        intensity = point.number("intensity", low=0.0, high=1.0)
        point.number("sharpness", low=0.0, high=1.0)
        duration_ms = point.integer("durationMillis")
        if not MIN_CONTROL_POINT_MS <= duration_ms <= MAX_CONTROL_POINT_MS:
            raise point.error_at(
                point.at("durationMillis"),
                f"is {duration_ms}",
                f"{MIN_CONTROL_POINT_MS}..{MAX_CONTROL_POINT_MS} ms (the range every envelope-capable device supports)",
            )
        times.append(times[-1] + duration_ms)
        values.append(intensity)
    if values[-1] != 0.0:
        raise fields.error_at(
            f"{fields.at(key)}[{len(raw_points) - 1}].intensity",
            f"is {values[-1]}",
            "0: an envelope must end with a zero-intensity control point",
        )
    return np.array(times), np.array(values)


def from_document(document: Any, path: Path, frame_rate_hz: float) -> HapticTrack:
    root = Fields(path, document, "")
    name = root.string("format")
    if name != FORMAT_NAME:
        raise root.error_at("format", f"is {name!r}", repr(FORMAT_NAME))
    version = root.integer("version")
    if version != 1:
        raise root.error_at("version", f"is {version}", "1")
    frame_ms = _frame_ms(frame_rate_hz)
    names, curves = [], []
    for index, raw in enumerate(root.list("vibrators", min_items=1)):
        vibrator = Fields(path, raw, f"vibrators[{index}]")
        names.append(vibrator.string("name", f"vibrator{index}"))
        envelope = _envelope(vibrator, "basicEnvelope") if vibrator.has("basicEnvelope") else None
        if vibrator.has("waveform"):
            timings, levels = _waveform(vibrator.object("waveform"))
            ends_ms = np.cumsum(timings)
            frame_times_ms = np.arange(int(np.ceil(ends_ms[-1] / frame_ms))) * frame_ms
            curves.append(levels[np.searchsorted(ends_ms, frame_times_ms, side="right")])
        elif envelope is not None:
            times_ms, values = envelope
            curves.append(np.interp(np.arange(int(times_ms[-1] // frame_ms) + 1) * frame_ms, times_ms, values))
        else:
            raise vibrator.error_at(vibrator.where, "has neither waveform nor basicEnvelope", "at least one of them")
    n_frames = max(len(curve) for curve in curves)
    intensities = np.zeros((n_frames, len(curves)), dtype=np.float32)
    for index, curve in enumerate(curves):
        intensities[: len(curve), index] = curve
    return HapticTrack(frame_rate_hz, tuple(names), intensities, description=str(document.get("description", "")))


def read(path: Path, frame_rate_hz: float) -> HapticTrack:
    return from_document(load_json(path), path, frame_rate_hz)
