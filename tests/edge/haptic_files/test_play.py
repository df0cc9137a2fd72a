"""render -> file -> play: ``sense render --format`` writes what the live renderer produced, ``sense play`` feels
it on a rig through the pipeline's outputs, with the intensities coming back within the format's resolution."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import ConfigError, HapticFileError
from edge.haptic_files import write_track
from edge.haptic_files.play import play_file
from edge.haptic_files.track import HapticTrack
from edge.rig import load_rig
from tests.edge.haptics.signals import SAMPLE_RATE_HZ, band_limited_song

runner = CliRunner()
BAND = "wristband-drv2605"
RESOLUTION = {"haptic": 0.01, "ahap": 0.01, "android": 1 / 255, "csv": 1e-4, "wav": 1 / 32767}


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("song") / "song.wav"
    mixture, _, _ = band_limited_song(4.0)
    soundfile.write(path, mixture, SAMPLE_RATE_HZ, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    "format_name, suffix",
    [("haptic", ".haptic"), ("ahap", ".ahap"), ("android", ".json"), ("csv", ".csv"), ("wav", ".wav")],
)
def test_render_file_play_gives_back_the_rendered_intensities(
    tmp_path: Path, song: Path, band_rendering, format_name: str, suffix: str
) -> None:
    out = tmp_path / f"song{suffix}"
    result = runner.invoke(app, ["render", str(song), "--rig", BAND, "--no-models", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote{out}:{format_name}" in "".join(result.output.split())
    rendered = band_rendering.intensities
    if format_name in ("csv", "wav"):  # every actuator in one file
        played = play_file(out, BAND, "sim://", pace=False).intensities
        expected = rendered
    else:  # one channel, the mix, played on one actuator so the rig's power cap cannot scale it
        played = play_file(out, BAND, "sim://", group="bass", pace=False).intensities
        outer = load_rig(BAND).actuator_ids.index("outer")
        assert np.all(np.delete(played, outer, axis=1) == 0.0)
        played, expected = played[:, [outer]], rendered.max(axis=1, keepdims=True)
    assert played.shape == expected.shape
    assert np.abs(played - expected).max() <= RESOLUTION[format_name] + 1e-6


def test_play_cli_reports_and_zeroes_every_output(tmp_path: Path) -> None:
    path = write_track(HapticTrack(125.0, ("mix",), np.full((50, 1), 0.4)), tmp_path / "buzz.haptic")
    result = runner.invoke(app, ["play", str(path), "--no-pace", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n_frames"] == 50 and summary["peak_intensity"] == pytest.approx(0.4, abs=1e-6)
    assert summary["outputs"] == ["sim://"] and summary["channels"] == ["buzz"]
    played = play_file(path, pace=False)
    sim = played.outputs[0].output
    assert sim.closed and np.all(sim.frames[-1][1] == 0.0)  # zeroed on the way out
    assert np.array_equal(sim.history()[:50], played.intensities)


def test_playback_is_paced_in_real_time(tmp_path: Path) -> None:
    path = write_track(HapticTrack(125.0, ("mix",), np.full((50, 1), 0.3)), tmp_path / "half-second.csv")
    started = time.monotonic()
    play_file(path)
    assert time.monotonic() - started >= 0.38  # 50 frames of 8 ms: the last one leaves at 0.392 s


def test_files_are_held_to_the_rigs_limits(tmp_path: Path) -> None:
    rig = load_rig(BAND)  # total power cap 3.0 over four actuators of power 1
    path = write_track(HapticTrack(125.0, rig.actuator_ids, np.ones((10, 4))), tmp_path / "full.csv")
    played = play_file(path, BAND, "sim://", pace=False).intensities
    assert np.allclose(played, 0.75, atol=1e-6)


def test_channels_map_by_actuator_or_group_name(tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    path.write_text("time_s,kick,F1L\n0,0.5,0.2\n")
    played = play_file(path, pace=False).intensities
    rig_ids = load_rig("default-sim-vest").actuator_ids
    assert played[0, rig_ids.index("B1L")] == pytest.approx(0.5) and played[0, rig_ids.index("F1L")] == pytest.approx(
        0.2
    )
    assert played[0, rig_ids.index("F4R")] == 0.0


def test_bad_mappings_name_the_channel(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("time_s,left,right\n0,0.5,0.2\n")
    with pytest.raises(HapticFileError, match="odd.csv: channel 'left': names no actuator or group"):
        play_file(path, pace=False)
    with pytest.raises(ConfigError, match="group 'tail' is not in rig"):
        play_file(path, group="tail", pace=False)
    result = runner.invoke(app, ["play", str(tmp_path / "missing.ahap"), "--no-pace"])
    assert result.exit_code != 0 and isinstance(result.exception, HapticFileError)


def test_one_channel_formats_write_one_file_per_group(tmp_path: Path, song: Path) -> None:
    out = tmp_path / "song.ahap"
    result = runner.invoke(
        app, ["render", str(song), "--rig", BAND, "--no-models", "--out", str(out), "--channels", "groups"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.bass.ahap", "song.drums.ahap", "song.voice.ahap"]
    played = play_file(tmp_path / "song.drums.ahap", BAND, "sim://", group="drums", pace=False).intensities
    rig = load_rig(BAND)
    assert played[:, [rig.actuator_ids.index("outer"), rig.actuator_ids.index("inner")]].max() == 0.0
    assert played[:, rig.actuator_ids.index("top")].max() > 0.3


def test_unknown_format_and_layout_are_usage_errors(tmp_path: Path, song: Path) -> None:
    result = runner.invoke(
        app, ["render", str(song), "--no-models", "--out", str(tmp_path / "x.bin"), "--format", "vib"]
    )
    assert isinstance(result.exception, ConfigError) and "haptic format 'vib' unknown" in str(result.exception)
    result = runner.invoke(
        app, ["render", str(song), "--no-models", "--out", str(tmp_path / "x.csv"), "--channels", "left"]
    )
    assert isinstance(result.exception, ConfigError) and "channel layout 'left' unknown" in str(result.exception)
