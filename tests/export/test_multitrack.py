"""Generated multitrack music rendered by the real fluidsynth: exact stems, known onsets, bass-only sections."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from export.data.multitrack import (
    DEFAULT_SOUNDFONT,
    STEMS,
    Note,
    Part,
    Song,
    generate_song,
    render_multitrack,
    render_song,
)


@pytest.fixture(scope="module", autouse=True)
def _fluidsynth_is_installed() -> None:
    assert shutil.which("fluidsynth"), "fluidsynth is missing: install the Debian package (scripts/setup.sh does)"
    assert DEFAULT_SOUNDFONT.exists(), f"{DEFAULT_SOUNDFONT} is missing: install fluid-soundfont-gm"


@pytest.fixture(scope="module")
def multitrack():
    return render_multitrack(seed=3, n_sections=3)


def test_generation_is_seeded_and_varied() -> None:
    assert generate_song(5) == generate_song(5)
    songs = [generate_song(seed) for seed in range(6)]
    assert len({song.tempo_bpm for song in songs}) > 3 and len({song.key_root for song in songs}) > 2
    assert len({song.parts[0].program for song in songs}) > 1  # voice-like lead programs vary


def test_stems_sum_to_the_mixture_at_16_khz_mono(multitrack) -> None:
    assert multitrack.sample_rate_hz == 16_000 and multitrack.mixture.ndim == 1
    assert set(multitrack.stems) == set(STEMS)
    np.testing.assert_allclose(np.sum(list(multitrack.stems.values()), axis=0), multitrack.mixture, atol=1e-5)
    assert np.abs(multitrack.mixture).max() == pytest.approx(0.9, abs=1e-3)
    assert len(multitrack.mixture) == int(round(multitrack.song.duration_s * 16_000))


def test_sections_say_which_stems_sound(multitrack) -> None:
    rate = multitrack.sample_rate_hz
    for start_s, end_s, playing in multitrack.song.sections:
        for stem in STEMS:
            # skip the first 0.3 s of a section: the previous section's notes ring on
            segment = multitrack.stems[stem][int((start_s + 0.3) * rate) : int(end_s * rate)]
            rms = float(np.sqrt(np.mean(segment**2)))
            if stem in playing:
                assert rms > 1e-3, (stem, start_s)
            elif stem != "drums":  # cymbals ring for seconds; the others stop
                assert rms < 1e-3, (stem, start_s)


def test_drum_onsets_are_where_the_sound_starts() -> None:
    hits_s = (0.5, 1.0, 1.5003, 2.0771)  # on and off the fluidsynth block grid
    song = Song(
        0,
        120.0,
        0,
        False,
        (Part("drums", 0, tuple(Note(t, 0.1, 38, 110) for t in hits_s)),),
        ((0.0, 2.5, ("drums",)),),
        2.5,
    )
    rendered = render_song(song)
    drums = np.abs(rendered.stems["drums"])
    assert len(rendered.drum_onsets_s) == len(hits_s)
    for onset_s in rendered.drum_onsets_s:
        sample = int(round(onset_s * 16_000))
        assert drums[sample - 40 : sample - 1].max() < 0.02 * drums[sample : sample + 800].max()  # silence before
        assert drums[sample : sample + 160].max() > 0.01  # sound within 10 ms of the stated onset
    assert np.all(np.abs(rendered.drum_onsets_s - np.array(hits_s)) < 0.01)
