"""Apple AHAP: what we write obeys the format's published rules, reads back within the tolerance, and bad files
fail naming the field.

The rules below are written from Apple's Core Haptics documentation ("Representing haptic patterns in AHAP
files", CHHapticEvent.EventType, CHHapticEvent.ParameterID: HapticIntensity and HapticSharpness in [0, 1],
CHHapticDynamicParameter: HapticIntensityControl multiplies in [0, 1], HapticSharpnessControl adds in [-1, 1],
CHHapticParameterCurve.ControlPoint: times relative to the curve's start), plus the two limits Meta's own
.haptic -> .ahap converter keeps for Core Haptics (16 control points per curve, continuous events <= 30 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.haptic_files import read_track, write_track
from edge.haptic_files.export import track_from_rendering
from edge.haptic_files.track import HapticTrack
from edge.rig import default_rig
from tests.edge.haptic_files.bad_files import assert_names_the_field

EVENT_TYPES = {"HapticTransient", "HapticContinuous", "AudioCustom", "AudioContinuous"}
EVENT_PARAMETERS = {"HapticIntensity": (0.0, 1.0), "HapticSharpness": (0.0, 1.0)}
CURVE_PARAMETERS = {"HapticIntensityControl": (0.0, 1.0), "HapticSharpnessControl": (-1.0, 1.0)}


def published_rules_violations(doc: Any) -> list[str]:
    """Every way ``doc`` breaks the AHAP rules above (empty list: valid)."""
    problems = []
    if not isinstance(doc.get("Version"), (int, float)):
        problems.append("Version must be a number")
    pattern = doc.get("Pattern")
    if not isinstance(pattern, list) or not pattern:
        return problems + ["Pattern must be a non-empty array"]
    for index, entry in enumerate(pattern):
        keys = set(entry) & {"Event", "Parameter", "ParameterCurve"}
        if len(keys) != 1 or len(entry) != 1:
            problems.append(f"Pattern[{index}] must hold exactly one Event, Parameter or ParameterCurve")
            continue
        if "Event" in entry:
            event = entry["Event"]
            if event.get("EventType") not in EVENT_TYPES:
                problems.append(f"Pattern[{index}] EventType")
            if not event.get("Time", -1) >= 0:
                problems.append(f"Pattern[{index}] Time")
            if event.get("EventType") == "HapticContinuous" and not 0 < event.get("EventDuration", 0) <= 30.0:
                problems.append(f"Pattern[{index}] EventDuration must be in (0, 30] s")
            for parameter in event.get("EventParameters", []):
                low, high = EVENT_PARAMETERS.get(parameter["ParameterID"], (-np.inf, np.inf))
                if not low <= parameter["ParameterValue"] <= high:
                    problems.append(f"Pattern[{index}] {parameter['ParameterID']} out of range")
        if "ParameterCurve" in entry:
            curve = entry["ParameterCurve"]
            low, high = CURVE_PARAMETERS.get(curve.get("ParameterID"), (None, None))
            points = curve.get("ParameterCurveControlPoints", [])
            if low is None:
                problems.append(f"Pattern[{index}] ParameterID")
            if not 1 <= len(points) <= 16:
                problems.append(f"Pattern[{index}] needs 1..16 control points, has {len(points)}")
            times = [point["Time"] for point in points]
            if times and (times[0] < 0 or any(b < a for a, b in zip(times, times[1:]))):
                problems.append(f"Pattern[{index}] control point times must start >= 0 and never decrease")
            if low is not None and not all(low <= point["ParameterValue"] <= high for point in points):
                problems.append(f"Pattern[{index}] control point values out of range")
    return problems


def test_the_rule_checker_catches_what_the_documentation_forbids() -> None:
    good = {
        "Version": 1.0,
        "Pattern": [
            {
                "Event": {
                    "Time": 0.0,
                    "EventType": "HapticContinuous",
                    "EventDuration": 1.0,
                    "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 1.0}],
                }
            },
            {
                "ParameterCurve": {
                    "ParameterID": "HapticIntensityControl",
                    "Time": 0.0,
                    "ParameterCurveControlPoints": [
                        {"Time": 0.0, "ParameterValue": 0.0},
                        {"Time": 1.0, "ParameterValue": 1.0},
                    ],
                }
            },
        ],
    }
    assert published_rules_violations(good) == []
    bad = json.loads(json.dumps(good))
    bad["Pattern"][0]["Event"]["EventDuration"] = 31.0
    bad["Pattern"][1]["ParameterCurve"]["ParameterCurveControlPoints"] *= 9  # 18 points, times going back
    assert len(published_rules_violations(bad)) == 3


def test_a_rendered_song_is_written_within_the_rules_and_reads_back_within_tolerance(
    tmp_path: Path, vest_rendering
) -> None:
    track = track_from_rendering(
        vest_rendering.intensities, 125.0, vest_rendering.onsets_s, default_rig(), "mix", "song"
    )
    path = write_track(track, tmp_path / "song.ahap", tolerance=0.01)
    document = json.loads(path.read_text())
    assert published_rules_violations(document) == []
    kinds = [entry.get("Event", {}).get("EventType", "ParameterCurve") for entry in document["Pattern"]]
    assert kinds.count("HapticTransient") == len(track.transient_frames[0]) >= 6
    assert kinds.count("ParameterCurve") >= 2  # more than 16 breakpoints: chained curves
    back = read_track(path)
    assert back.n_frames == track.n_frames
    assert np.abs(back.intensities - track.intensities).max() <= 0.01 + 1e-5


def test_long_tracks_get_continuous_events_of_at_most_30_s(tmp_path: Path) -> None:
    values = np.full(125 * 70 + 1, 0.5, dtype=np.float32)  # 70 s
    path = write_track(HapticTrack(125.0, ("mix",), values[:, None]), tmp_path / "long.ahap")
    document = json.loads(path.read_text())
    assert published_rules_violations(document) == []
    durations = [e["Event"]["EventDuration"] for e in document["Pattern"] if "Event" in e]
    assert durations == [30.0, 30.0, 10.0]
    assert np.allclose(read_track(path).intensities, 0.5, atol=1e-5)


def test_a_hand_written_pattern_plays_as_core_haptics_would(tmp_path: Path) -> None:
    document = {
        "Version": 1.0,
        "Metadata": {"Project": "x"},
        "Pattern": [
            {
                "Event": {
                    "Time": 0.0,
                    "EventType": "HapticTransient",
                    "EventParameters": [
                        {"ParameterID": "HapticIntensity", "ParameterValue": 0.9},
                        {"ParameterID": "HapticSharpness", "ParameterValue": 0.4},
                    ],
                }
            },
            {
                "Event": {
                    "Time": 0.1,
                    "EventType": "HapticContinuous",
                    "EventDuration": 0.2,
                    "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 0.8}],
                }
            },
            {"Event": {"Time": 0.0, "EventType": "AudioCustom", "EventWaveformPath": "x.wav"}},
            {
                "ParameterCurve": {
                    "ParameterID": "HapticIntensityControl",
                    "Time": 0.1,
                    "ParameterCurveControlPoints": [
                        {"Time": 0, "ParameterValue": 1.0},
                        {"Time": 0.2, "ParameterValue": 0.5},
                    ],
                }
            },
            {
                "ParameterCurve": {
                    "ParameterID": "HapticSharpnessControl",
                    "Time": 0.1,
                    "ParameterCurveControlPoints": [{"Time": 0, "ParameterValue": -0.3}],
                }
            },
        ],
    }
    path = tmp_path / "authored.ahap"
    path.write_text(json.dumps(document))
    track = read_track(path)
    assert track.n_frames == 38  # the continuous event ends at 0.3 s
    amplitude = track.intensities[:, 0]
    assert amplitude[0] == pytest.approx(0.81)  # transient: intensity 0.9 -> drive 0.81
    assert amplitude[1:12].max() == 0.0  # nothing until the continuous event at 0.1 s (frame 12.5)
    assert amplitude[13] == pytest.approx((0.8 * (1 - 0.5 * (13 / 125 - 0.1) / 0.2)) ** 2, abs=1e-5)
    assert amplitude[37] == pytest.approx((0.8 * (1 - 0.5 * (37 / 125 - 0.1) / 0.2)) ** 2, abs=1e-5)


def _valid() -> dict[str, Any]:
    return {
        "Version": 1.0,
        "Pattern": [
            {
                "Event": {
                    "Time": 0.0,
                    "EventType": "HapticContinuous",
                    "EventDuration": 0.5,
                    "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 0.7}],
                }
            },
            {
                "ParameterCurve": {
                    "ParameterID": "HapticIntensityControl",
                    "Time": 0.0,
                    "ParameterCurveControlPoints": [
                        {"Time": 0.0, "ParameterValue": 1.0},
                        {"Time": 0.5, "ParameterValue": 0.0},
                    ],
                }
            },
        ],
    }


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.pop("Pattern"), "Pattern: is missing"),
        (lambda d: d.update(Version="1"), "Version: is the string '1'"),
        (
            lambda d: d["Pattern"][0]["Event"].update(EventType="HapticBuzz"),
            "Pattern[0].Event.EventType: is 'HapticBuzz'",
        ),
        (lambda d: d["Pattern"][0]["Event"].pop("EventDuration"), "Pattern[0].Event.EventDuration: is missing"),
        (lambda d: d["Pattern"][0]["Event"].update(Time=-0.5), "Pattern[0].Event.Time: -0.5 is out of range"),
        (
            lambda d: d["Pattern"][0]["Event"]["EventParameters"][0].update(ParameterValue=None),
            "Pattern[0].Event.EventParameters[0].ParameterValue: is null",
        ),
        (lambda d: d["Pattern"][1].update(Event={}), "Pattern[1]: has ['Event', 'ParameterCurve']"),
        (
            lambda d: d["Pattern"][1]["ParameterCurve"]["ParameterCurveControlPoints"].extend(
                [{"Time": 0.5, "ParameterValue": 0.0}] * 15
            ),
            "ParameterCurveControlPoints: has 17 control points",
        ),
        (
            lambda d: d["Pattern"][1]["ParameterCurve"]["ParameterCurveControlPoints"][1].update(Time=-0.1),
            "ParameterCurveControlPoints[1].Time: -0.1 is out of range",
        ),
        (lambda d: d["Pattern"].pop(0), "Pattern: has no haptic events"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, change, field: str) -> None:
    assert_names_the_field(tmp_path / "bad.ahap", _valid(), change, field)


def test_out_of_range_values_are_clamped_as_core_haptics_does(tmp_path: Path) -> None:
    document = _valid()
    document["Pattern"][0]["Event"]["EventParameters"][0]["ParameterValue"] = 3.0
    path = tmp_path / "loud.ahap"
    path.write_text(json.dumps(document))
    assert read_track(path).intensities.max() == pytest.approx(1.0)
