"""Meta ``.haptic`` 1.0: what we write obeys the format's published rules, reads back within the tolerance, and
bad files fail naming the field.

The rules below are written from the format's documentation (Haptic Data Model, version 1.0.0, in Meta's
MIT-licensed Lofelt NiceVibrations repository: "Continuous Signal structure", "Emphasis structure" and
"Validation Rules"), independently of edge.haptic_files.meta_haptic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.errors import ConfigError, HapticFileError
from edge.haptic_files import read_track, write_track
from edge.haptic_files.export import track_from_rendering
from edge.haptic_files.track import HapticTrack
from edge.rig import default_rig
from tests.edge.haptic_files.bad_files import assert_names_the_field


def published_rules_violations(doc: Any) -> list[str]:
    """Every way ``doc`` breaks the .haptic 1.0 data model (empty list: valid)."""
    problems = []

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    version = doc.get("version", {})
    if not (isinstance(version.get("major"), int) and version["major"] == 1):
        problems.append("version.major must be the integer 1")
    for key in ("minor", "patch"):
        if key in version and not isinstance(version[key], int):
            problems.append(f"version.{key} must be an integer")
    envelopes = doc.get("signals", {}).get("continuous", {}).get("envelopes", {})
    amplitude = envelopes.get("amplitude")
    if not isinstance(amplitude, list) or not amplitude:
        problems.append("the amplitude envelope cannot be empty")
        amplitude = []
    for name, points, value_key in (
        ("amplitude", amplitude, "amplitude"),
        ("frequency", envelopes.get("frequency", []), "frequency"),
    ):
        previous = 0.0
        for index, point in enumerate(points):
            time, value = point.get("time"), point.get(value_key)
            if not number(time) or not 0.0 <= time <= 3.4e38:
                problems.append(f"{name}[{index}].time out of range")
            elif time < previous:
                problems.append(f"{name}[{index}].time not consecutive")
            else:
                previous = time
            if not number(value) or not 0.0 <= value <= 1.0:
                problems.append(f"{name}[{index}].{value_key} out of [0, 1]")
            emphasis = point.get("emphasis")
            if emphasis is not None:
                if set(emphasis) != {"amplitude", "frequency"}:
                    problems.append(f"{name}[{index}].emphasis needs amplitude and frequency")
                elif not all(number(v) and 0.0 <= v <= 1.0 for v in emphasis.values()):
                    problems.append(f"{name}[{index}].emphasis values out of [0, 1]")
                elif number(value) and emphasis["amplitude"] < value:
                    problems.append(f"{name}[{index}].emphasis amplitude below the breakpoint's")
    return problems


def test_the_rule_checker_catches_what_the_documentation_forbids() -> None:
    good = {
        "version": {"major": 1, "minor": 0, "patch": 0},
        "signals": {
            "continuous": {
                "envelopes": {"amplitude": [{"time": 0.0, "amplitude": 0.2}, {"time": 0.1, "amplitude": 0.5}]}
            }
        },
    }
    assert published_rules_violations(good) == []
    bad = json.loads(json.dumps(good))
    bad["signals"]["continuous"]["envelopes"]["amplitude"][1].update(
        time=-0.1, emphasis={"amplitude": 0.1, "frequency": 0.5}
    )
    assert len(published_rules_violations(bad)) == 2


def test_a_rendered_song_is_written_within_the_rules_and_reads_back_within_tolerance(
    tmp_path: Path, vest_rendering
) -> None:
    rig = default_rig()
    track = track_from_rendering(vest_rendering.intensities, 125.0, vest_rendering.onsets_s, rig, "groups", "song")
    drums = track.channel(track.channel_names.index("drums"))
    path = write_track(drums, tmp_path / "drums.haptic", tolerance=0.01)
    document = json.loads(path.read_text())
    assert published_rules_violations(document) == []
    breakpoints = document["signals"]["continuous"]["envelopes"]["amplitude"]
    assert len(breakpoints) < drums.n_frames / 2  # simplified, not one point per frame
    emphasised = [point["time"] for point in breakpoints if "emphasis" in point]
    assert len(emphasised) == len(drums.transient_frames[0]) >= 6  # a drum hit every 0.5 s from 0.25 s
    back = read_track(path)
    assert back.n_frames == drums.n_frames
    assert np.abs(back.intensities - drums.intensities).max() <= 0.01 + 1e-6
    assert list(back.transient_frames[0]) == list(drums.transient_frames[0])


def test_the_tolerance_bounds_the_error_and_trades_breakpoints(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = (0.5 + 0.4 * np.sin(np.cumsum(rng.normal(0, 0.1, 400)))).astype(np.float32)
    track = HapticTrack(125.0, ("mix",), values[:, None])
    n_points = {}
    for tolerance in (0.0, 0.01, 0.05):
        path = write_track(track, tmp_path / f"walk-{tolerance}.haptic", tolerance=tolerance)
        n_points[tolerance] = len(json.loads(path.read_text())["signals"]["continuous"]["envelopes"]["amplitude"])
        assert np.abs(read_track(path).intensities[:, 0] - values).max() <= tolerance + 1e-6
    assert n_points[0.0] > 350 and n_points[0.0] > n_points[0.01] > n_points[0.05]


def test_one_channel_per_file() -> None:
    track = HapticTrack(125.0, ("a", "b"), np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="one channel"):
        write_track(track, Path("never-written.haptic"))


def _valid() -> dict[str, Any]:
    return {
        "version": {"major": 1, "minor": 0, "patch": 0},
        "metadata": {"editor": "x", "tags": ["a"]},
        "signals": {
            "continuous": {
                "envelopes": {
                    "amplitude": [
                        {"time": 0.0, "amplitude": 0.2},
                        {"time": 0.2, "amplitude": 0.6, "emphasis": {"amplitude": 0.8, "frequency": 0.5}},
                    ],
                    "frequency": [{"time": 0.0, "frequency": 0.3}],
                }
            }
        },
    }


def test_a_hand_written_file_plays_its_envelope_and_emphasis(tmp_path: Path) -> None:
    path = tmp_path / "authored.haptic"
    path.write_text(json.dumps(_valid()))
    track = read_track(path)
    assert track.n_frames == 26  # 0.2 s at 125 frames/s, both ends included
    assert track.intensities[0, 0] == pytest.approx(0.2) and track.intensities[12, 0] == pytest.approx(
        0.2 + 0.4 * 12 / 25
    )
    assert track.intensities[25, 0] == pytest.approx(0.8)  # the emphasis lifts its breakpoint's frame
    assert list(track.transient_frames[0]) == [25]


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.pop("version"), "version: is missing"),
        (lambda d: d["version"].update(major=2), "version.major: is 2"),
        (
            lambda d: d["signals"]["continuous"]["envelopes"].update(amplitude=[]),
            "signals.continuous.envelopes.amplitude: has 0 items",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["amplitude"][1].update(time=-1),
            "amplitude[1].time: -1 is out of range",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["amplitude"][0].update(time=0.5),
            "amplitude[1].time: 0.2 comes after 0.5",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["amplitude"][0].update(amplitude=1.5),
            "amplitude[0].amplitude: 1.5 is out of range",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["amplitude"][0].update(amplitude="loud"),
            "amplitude[0].amplitude: is the string 'loud'",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["amplitude"][1]["emphasis"].pop("frequency"),
            "emphasis.frequency: is missing",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["amplitude"][1]["emphasis"].update(amplitude=0.5),
            "emphasis.amplitude: 0.5 is below",
        ),
        (
            lambda d: d["signals"]["continuous"]["envelopes"]["frequency"][0].update(frequency=2),
            "frequency[0].frequency: 2 is out of range",
        ),
        (lambda d: d["metadata"].update(tags="drums"), "metadata.tags: is the string"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, change, field: str) -> None:
    assert_names_the_field(tmp_path / "bad.haptic", _valid(), change, field)


def test_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.haptic"
    path.write_text('{"version":\n  {"major": 1,,}}')
    with pytest.raises(HapticFileError, match=r"broken.haptic: line 2, column \d+: invalid JSON"):
        read_track(path)
