"""The held-out set: reserved seeds and files, deterministic rendering with exact stems, speech items."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from export.evaluate.heldout import (HELDOUT_SEED_COUNT, HELDOUT_SEED_START, Piece, check_training_seed,
                                     heldout_samples, heldout_songs, heldout_speech, heldout_tagging_pieces,
                                     is_heldout_sample, speech_over_music)


def test_training_seeds_below_the_reserved_range_pass_and_reserved_ones_fail() -> None:
    assert check_training_seed(HELDOUT_SEED_START - 1) == HELDOUT_SEED_START - 1
    with pytest.raises(ConfigError, match=f"seed {HELDOUT_SEED_START} is reserved"):
        check_training_seed(HELDOUT_SEED_START)
    assert is_heldout_sample("/usr/share/sonic-pi/samples/loop_amen_full.flac")
    assert not is_heldout_sample("/usr/share/sonic-pi/samples/loop_amen.flac")


def test_songs_are_reproducible_with_exact_stems(songs: list[Piece]) -> None:
    assert [piece.name for piece in songs] == [f"song-{HELDOUT_SEED_START}", f"song-{HELDOUT_SEED_START + 1}"]
    for piece in songs:
        assert set(piece.stems) == {"vocals", "drums", "bass", "other"}
        np.testing.assert_allclose(np.sum(list(piece.stems.values()), axis=0), piece.mixture, atol=1e-5)
        assert all(np.sqrt(np.mean(stem ** 2)) > 1e-3 for stem in piece.stems.values())
    again = heldout_songs(1, 3)[0]
    np.testing.assert_array_equal(again.mixture, songs[0].mixture)


def test_asking_beyond_the_reserved_range_fails() -> None:
    with pytest.raises(ConfigError, match="reserved"):
        heldout_songs(2, first=HELDOUT_SEED_COUNT - 1)


def test_tagging_material_has_speech_speech_over_music_and_samples(songs: list[Piece]) -> None:
    speech = heldout_speech(2)
    assert [p.name for p in speech] == ["speech-0", "speech-1"] and all(len(p.mixture) > 16_000 for p in speech)
    mixed = speech_over_music(speech[0], songs[0])
    assert len(mixed.mixture) == min(len(speech[0].mixture), len(songs[0].mixture))
    assert np.abs(mixed.mixture).max() <= 1.0 and not mixed.stems
    samples = heldout_samples()
    assert all(len(p.mixture) > 0 and p.name.startswith("sample-") for p in samples)
    pieces = heldout_tagging_pieces(songs, n_speech=2)
    assert len(pieces) == len(songs) + 2 + 2 + len(samples)
