"""Per-actuator CSV and WAV: every frame exact to the format's resolution, and bad files name the line/column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from edge.errors import HapticFileError
from edge.haptic_files import read_track, write_track
from edge.haptic_files.export import track_from_rendering
from edge.rig import default_rig


@pytest.mark.parametrize("suffix, resolution", [(".csv", 1e-4), (".wav", 1 / 32767)])
def test_every_actuator_round_trips(tmp_path: Path, vest_rendering, suffix: str, resolution: float) -> None:
    track = track_from_rendering(vest_rendering.intensities, 125.0, vest_rendering.onsets_s, default_rig(), "actuators")
    back = read_track(write_track(track, tmp_path / f"song{suffix}"))
    assert back.channel_names == default_rig().actuator_ids and back.frame_rate_hz == pytest.approx(125.0)
    assert back.n_frames == track.n_frames
    assert np.abs(back.intensities - track.intensities).max() <= resolution + 1e-7


def test_the_csv_is_plain(tmp_path: Path, vest_rendering) -> None:
    track = track_from_rendering(vest_rendering.intensities, 125.0, vest_rendering.onsets_s, default_rig(), "groups")
    lines = write_track(track, tmp_path / "song.csv").read_text().splitlines()
    assert lines[0] == "time_s,kick,snare,drums,bass,voice,other,chest"
    assert lines[2].startswith("0.008000,") and len(lines) == track.n_frames + 1


def test_a_csv_at_another_rate_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "slow.csv"
    path.write_text("time_s,a\n0,0\n0.1,1\n0.2,0.5\n")
    track = read_track(path)
    assert track.frame_rate_hz == pytest.approx(10.0) and track.intensities[:, 0].tolist() == [0.0, 1.0, 0.5]


@pytest.mark.parametrize(
    "text, field",
    [
        ("t,a\n0,0\n", "line 1: header is ['t', 'a']"),
        ("time_s,a,a\n0,0,0\n", "line 1: channel names ['a', 'a']"),
        ("time_s,a\n", "line 2: no rows"),
        ("time_s,a\n0,0\n0.008,0.5,1\n", "line 3: has 3 columns"),
        ("time_s,a\n0,0\n0.008,1.2\n", "line 3, column 'a': is '1.2'"),
        ("time_s,a\n0,0\n0.008,loud\n", "line 3, column 'a': is 'loud'"),
        ("time_s,a\n0,0\n0.008,0\n0.020,0\n", "line 4, column 'time_s': is 0.02"),
        ("time_s,a\n0.5,0\n", "line 2, column 'time_s': is 0.5"),
    ],
)
def test_bad_csv_names_line_and_column(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(HapticFileError) as caught:
        read_track(path)
    assert f"bad.csv: {field}" in str(caught.value)


def test_bad_wav_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    soundfile.write(path, np.zeros((10, 2), dtype=np.float32), 125, subtype="FLOAT")
    with pytest.raises(HapticFileError, match="float.wav: format: sample format is FLOAT"):
        read_track(path)
    path = tmp_path / "negative.wav"
    samples = np.zeros((10, 2), dtype=np.int16)
    samples[4, 1] = -5
    soundfile.write(path, samples, 125, subtype="PCM_16")
    with pytest.raises(HapticFileError, match="negative.wav: sample 4, channel 'ch2': is -5"):
        read_track(path)
    path = tmp_path / "text.wav"
    path.write_text("not a wav")
    with pytest.raises(HapticFileError, match="text.wav: file: cannot read it as WAV"):
        read_track(path)


def test_rates_a_format_cannot_hold_are_refused(tmp_path: Path) -> None:
    from edge.errors import ConfigError
    from edge.haptic_files.track import HapticTrack

    track = HapticTrack(30.0, ("a",), np.zeros((3, 1)))
    with pytest.raises(ConfigError, match="whole number of Hz; the track runs at 29.97 frames/s"):
        write_track(HapticTrack(29.97, ("a",), np.zeros((3, 1))), tmp_path / "x.wav")
    with pytest.raises(ConfigError, match="whole milliseconds; a 30 frames/s track has 33.3333 ms"):
        write_track(track, tmp_path / "x.json")
