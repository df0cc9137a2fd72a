"""The fidelity benchmark's metrics on cases with known answers, and one short side-by-side run (structure and
orderings that must hold, never speed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from edge.rig import default_rig
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
RATE_HZ = DEVICE_STREAM.sample_rate_hz


BENCH_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fidelity.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_fidelity", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def song():
    from export.data.multitrack import render_multitrack

    return render_multitrack(seed=1234, n_sections=3)


def test_pulse_times_mark_rises(bench) -> None:
    intensity = np.zeros(100)
    intensity[10:20] = 0.8
    intensity[12] = 1.0  # a second small rise inside the same pulse is not a new pulse
    intensity[50:55] = 0.5
    times = bench.pulse_times_s(intensity)
    np.testing.assert_allclose(times, [11 * HOP / RATE_HZ, 51 * HOP / RATE_HZ])


@pytest.mark.filterwarnings("ignore:Estimated onsets are empty")
def test_perfect_pulses_score_one_and_silence_scores_zero(bench, song) -> None:
    rig = default_rig()
    groups = bench.stem_groups(rig)
    assert set(groups) == {"vocals", "drums", "bass", "other"} and len(groups["drums"]) == 8
    n_frames = len(song.mixture) // HOP
    perfect = np.zeros((n_frames, rig.n_actuators))
    frames = np.ceil(song.drum_onsets_s * RATE_HZ / HOP).astype(int) - 1  # the hop that ends right after each onset
    perfect[frames[frames < n_frames], :] = 1.0
    metrics = bench.evaluate(perfect, song, groups)
    assert metrics["f_measure"] == 1.0 and all(0 <= d <= 0.008 for d in metrics["delays_s"])
    silent = bench.evaluate(np.zeros((n_frames, rig.n_actuators)), song, groups)
    assert silent["f_measure"] == 0.0 and np.isnan(silent["crosstalk_db"])  # no drum energy at all: undefined


def test_oracle_renderer_beats_the_low_pass_vest(bench, song) -> None:
    rig = default_rig()
    groups = bench.stem_groups(rig)
    oracle = bench.evaluate(bench.ours_oracle(rig)(song.mixture, song.stems), song, groups)
    lowpass = bench.evaluate(bench.lowpass_baseline(rig)(song.mixture, song.stems), song, groups)
    assert oracle["f_measure"] > lowpass["f_measure"]
    assert oracle["crosstalk_db"] <= lowpass["crosstalk_db"] - 10.0
    assert oracle["correlations"]["bass"] > 0.5
    table = bench.markdown_table(
        {"oracle": bench.aggregate([oracle]), "separator": {}}, {"separator": "not run: x"}, ["drums", "bass"]
    )
    assert table.splitlines()[2].startswith("| oracle | ") and "not run: x" in table


def test_out_of_source_material_is_a_multitrack_from_held_out_sources(bench) -> None:
    from export.data.source_holdout import HELDOUT_SOURCES
    from export.evaluate.heldout import out_of_source_song

    song = bench.song_for("out-of-source", 0, seed=1000)
    np.testing.assert_allclose(sum(song.stems.values()), song.mixture, atol=1e-5)
    assert len(song.drum_onsets_s) > 0 and np.all(np.diff(song.drum_onsets_s) > 0)
    assert set(out_of_source_song(0).sources.all()) <= HELDOUT_SOURCES
