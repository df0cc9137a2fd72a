"""Android vibration arrays: what we write obeys the Android API's published rules, the waveform reads back to
1/255, and bad files fail naming the field.

Rules written from the Android reference: VibrationEffect.createWaveform(long[] timings, int[] amplitudes,
int repeat) (timings in ms >= 0, one amplitude per timing, amplitudes 0..255 or DEFAULT_AMPLITUDE = -1,
repeat -1 or an index into timings); VibrationEffect.BasicEnvelopeBuilder (intensity and sharpness in [0, 1],
starts at intensity 0, must end with a zero-intensity control point or build() throws IllegalStateException);
VibratorEnvelopeEffectInfo (envelope-capable devices support control-point durations of at least 20 ms to at
most 1 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.haptic_files import read_track, write_track
from edge.haptic_files.export import track_from_rendering
from edge.rig import default_rig
from tests.edge.haptic_files.bad_files import assert_names_the_field


def published_rules_violations(vibrator: dict[str, Any]) -> list[str]:
    problems = []
    waveform = vibrator["waveform"]
    timings, amplitudes = waveform["timings"], waveform["amplitudes"]
    if len(timings) != len(amplitudes):
        problems.append("one amplitude per timing")
    if not all(isinstance(t, int) and t >= 0 for t in timings):
        problems.append("timings are whole ms >= 0")
    if not all(isinstance(a, int) and (0 <= a <= 255 or a == -1) for a in amplitudes):
        problems.append("amplitudes 0..255 or -1")
    if not -1 <= waveform["repeat"] < len(timings):
        problems.append("repeat")
    envelope = vibrator["basicEnvelope"]
    if not all(0 <= p["intensity"] <= 1 and 0 <= p["sharpness"] <= 1 for p in envelope):
        problems.append("envelope intensity/sharpness in [0, 1]")
    if not all(20 <= p["durationMillis"] <= 1000 for p in envelope):
        problems.append("control point durations 20..1000 ms")
    if envelope[-1]["intensity"] != 0:
        problems.append("an envelope ends at zero intensity")
    return problems


def test_the_rule_checker_catches_what_the_documentation_forbids() -> None:
    bad = {
        "waveform": {"timings": [8, -1], "amplitudes": [256], "repeat": 3},
        "basicEnvelope": [{"intensity": 0.5, "sharpness": 0.5, "durationMillis": 10}],
    }
    assert len(published_rules_violations(bad)) == 6


def test_a_rendered_song_is_written_within_the_rules_and_reads_back_within_1_in_255(
    tmp_path: Path, vest_rendering
) -> None:
    track = track_from_rendering(vest_rendering.intensities, 125.0, vest_rendering.onsets_s, default_rig(), "groups")
    path = write_track(track, tmp_path / "song.json", "android", tolerance=0.01)
    document = json.loads(path.read_text())
    assert [v["name"] for v in document["vibrators"]] == list(track.channel_names)
    for vibrator in document["vibrators"]:
        assert published_rules_violations(vibrator) == []
        assert sum(vibrator["waveform"]["timings"]) == track.n_frames * 8
    back = read_track(path)
    assert back.channel_names == track.channel_names and back.n_frames == track.n_frames
    assert np.abs(back.intensities - track.intensities).max() <= 1 / 255 + 1e-6
    assert np.all(back.intensities <= track.intensities + 1e-6)  # rounded down: never more than rendered


def test_without_a_waveform_the_envelope_plays(tmp_path: Path) -> None:
    document = {
        "format": "sense-android-vibration",
        "version": 1,
        "vibrators": [
            {
                "name": "phone",
                "basicEnvelope": [
                    {"intensity": 1.0, "sharpness": 0.5, "durationMillis": 80},
                    {"intensity": 0.0, "sharpness": 0.5, "durationMillis": 40},
                ],
            }
        ],
    }
    path = tmp_path / "env.json"
    path.write_text(json.dumps(document))
    values = read_track(path).intensities[:, 0]
    assert len(values) == 16 and values[0] == 0.0 and values[10] == pytest.approx(1.0) and values[15] == 0.0
    assert values[5] == pytest.approx(0.5)


def _valid() -> dict[str, Any]:
    return {
        "format": "sense-android-vibration",
        "version": 1,
        "vibrators": [
            {
                "name": "v",
                "waveform": {"timings": [0, 80, 40], "amplitudes": [0, 255, -1], "repeat": -1},
                "basicEnvelope": [
                    {"intensity": 0.5, "sharpness": 0.5, "durationMillis": 20},
                    {"intensity": 0.0, "sharpness": 0.5, "durationMillis": 20},
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.update(format="vibes"), "format: is 'vibes'"),
        (
            lambda d: d["vibrators"][0]["waveform"]["timings"].append(8),
            "vibrators[0].waveform.amplitudes: has 3 entries, timings 4",
        ),
        (
            lambda d: d["vibrators"][0]["waveform"]["timings"].__setitem__(1, 8.5),
            "vibrators[0].waveform.timings[1]: is 8.5",
        ),
        (
            lambda d: d["vibrators"][0]["waveform"]["amplitudes"].__setitem__(1, 300),
            "vibrators[0].waveform.amplitudes[1]: is 300",
        ),
        (lambda d: d["vibrators"][0]["waveform"].update(repeat=3), "vibrators[0].waveform.repeat: is 3"),
        (
            lambda d: d["vibrators"][0]["basicEnvelope"][0].update(durationMillis=5),
            "basicEnvelope[0].durationMillis: is 5",
        ),
        (lambda d: d["vibrators"][0]["basicEnvelope"][1].update(intensity=0.2), "basicEnvelope[1].intensity: is 0.2"),
        (
            lambda d: d["vibrators"][0]["basicEnvelope"][0].update(sharpness=-1),
            "basicEnvelope[0].sharpness: -1 is out of range",
        ),
        (lambda d: d["vibrators"][0].clear(), "vibrators[0]: has neither waveform nor basicEnvelope"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, change, field: str) -> None:
    assert_names_the_field(tmp_path / "bad.json", _valid(), change, field)


def test_default_amplitude_plays_at_full_scale(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(_valid()))
    values = read_track(path).intensities[:, 0]
    assert len(values) == 15 and values[:10].min() == 1.0 and values[10:].min() == 1.0
