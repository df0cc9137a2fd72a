"""``sense render`` through typer's runner, and the haptogram library under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import AudioInputError, ConfigError
from edge.haptogram import compute_haptogram
from edge.rig import default_rig, load_rig
from tests.edge.haptics.signals import SAMPLE_RATE_HZ, band_limited_song
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop


runner = CliRunner()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_haptogram_collects_what_the_renderer_saw() -> None:
    mixture, _, onsets_s = band_limited_song(3.0)
    haptogram = compute_haptogram(mixture, default_rig(), None, "song")
    assert haptogram.intensities.shape == (len(mixture) // HOP, 16)
    assert haptogram.stem_levels == {}  # DSP-only: no stems to show
    assert len(haptogram.actuator_labels) == 16 and haptogram.actuator_labels[-1] == "B4R (snare)"
    detected = haptogram.onsets_s[haptogram.onsets_s > 0.1]
    assert len(detected) == len(onsets_s) and np.all(np.abs(detected - onsets_s) < 0.03)


def test_render_writes_a_haptogram_of_a_file(tmp_path: Path) -> None:
    mixture, _, _ = band_limited_song(3.0)
    sound = tmp_path / "song.wav"
    soundfile.write(sound, mixture, SAMPLE_RATE_HZ)
    out = tmp_path / "song.png"
    result = runner.invoke(app, ["render", str(sound), "--rig", "wristband-drv2605", "--out", str(out), "--no-models"])
    assert result.exit_code == 0, result.output
    width, height = _png_size(out)
    assert width > 800 and height > 500
    assert "4 actuators" in result.output and "drum onsets" in result.output


def test_render_the_bundled_example_with_the_bundled_pack(tmp_path: Path) -> None:
    out = tmp_path / "example.png"
    result = runner.invoke(app, ["render", "--out", str(out), "--seconds", "2"])
    assert result.exit_code == 0, result.output
    assert _png_size(out)[0] > 800 and "16 actuators" in result.output


def test_render_errors_name_the_problem(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "x.png")])
    assert isinstance(result.exception, AudioInputError) and "missing.wav" in str(result.exception)
    bad_rig = tmp_path / "bad.toml"
    bad_rig.write_text('[[outputs]]\nid = "s"\nurl = "sim://"\n[[actuators]]\nid = "a"\nkind = "piezo"\n')
    result = runner.invoke(app, ["render", "--rig", str(bad_rig), "--out", str(tmp_path / "x.png")])
    assert isinstance(result.exception, ConfigError) and "bad.toml:6: actuators[0].kind" in str(result.exception)
    assert not (tmp_path / "x.png").exists()
    assert load_rig("default-sim-vest").n_actuators == 16


def test_haptogram_marks_alert_presets(tmp_path: Path) -> None:
    from edge.haptogram import Haptogram, RecordingRenderer, plot_haptogram, preset_spans
    from edge.analysis import analyse_signals

    mixture, stems, _ = band_limited_song(3.0)
    n_frames = len(mixture) // HOP
    labels = ("speech", "doorbell")
    probs = np.zeros((n_frames, 2))
    probs[125:250, 1] = 0.95  # a doorbell from 1 s to 2 s
    analysis = analyse_signals(mixture, SAMPLE_RATE_HZ, stems=stems, tag_probs=probs, labels=labels)
    recorder = RecordingRenderer(default_rig().make_renderer(("vocals", "drums", "bass", "other"), labels))
    intensities = recorder.process(analysis)
    spans = preset_spans(analysis.t_s, recorder.presets)
    assert len(spans) == 1 and spans[0][2] == "doorbell"
    assert 1.0 < spans[0][0] < 1.2 and 2.0 < spans[0][1] < 2.6  # on after smoothing (0.15 s), off after the hold
    haptogram = Haptogram(
        mixture,
        SAMPLE_RATE_HZ,
        analysis.t_s,
        intensities,
        {},
        np.zeros(0),
        [str(i) for i in range(16)],
        "vest",
        "song",
        "none",
        recorder.presets,
    )
    assert _png_size(plot_haptogram(haptogram, tmp_path / "alert.png"))[0] > 800
