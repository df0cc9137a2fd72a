"""The held-out set: reserved seeds and files, deterministic rendering with exact stems, speech items."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from export.data.sound_events import EVENT_GENERATORS
from export.evaluate.heldout import (
    HELDOUT_SEED_COUNT,
    HELDOUT_SEED_START,
    Piece,
    check_training_seed,
    heldout_events,
    heldout_samples,
    heldout_songs,
    heldout_speech,
    heldout_tagging_pieces,
    is_heldout_sample,
    over_song,
)


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
        assert all(np.sqrt(np.mean(stem**2)) > 1e-3 for stem in piece.stems.values())
    again = heldout_songs(1, 3)[0]
    np.testing.assert_array_equal(again.mixture, songs[0].mixture)


def test_asking_beyond_the_reserved_range_fails() -> None:
    with pytest.raises(ConfigError, match="reserved"):
        heldout_songs(2, first=HELDOUT_SEED_COUNT - 1)


def test_tagging_material_has_speech_speech_over_music_and_samples(songs: list[Piece]) -> None:
    speech = heldout_speech(2)
    assert [p.name for p in speech] == ["speech-0", "speech-1"] and all(len(p.mixture) > 16_000 for p in speech)
    mixed = over_song(speech[0], songs[0], rms_ratio=1.0)
    assert len(mixed.mixture) == min(len(speech[0].mixture), len(songs[0].mixture))
    assert np.abs(mixed.mixture).max() <= 1.0 and not mixed.stems
    samples = heldout_samples()
    assert all(len(p.mixture) > 0 and p.name.startswith("sample-") for p in samples)
    pieces = heldout_tagging_pieces(songs, n_speech=2)
    assert len(pieces) == len(songs) + 2 + 2 + len(samples)
    with_events = heldout_tagging_pieces(songs, n_speech=2, with_samples=False, n_events_per_kind=1)
    assert len(with_events) == len(songs) + 2 + 2 + 2 * len(EVENT_GENERATORS)


def test_held_out_events_are_not_the_training_events() -> None:
    """Every kind, deterministic, and none equals what the training recipe's event stream draws."""
    from export.data.sound_events import synthesize_event

    events = heldout_events(2)
    assert [p.name for p in events[:2]] == [f"event-{next(iter(EVENT_GENERATORS))}-{i}" for i in range(2)]
    assert len(events) == 2 * len(EVENT_GENERATORS) and all(np.abs(p.mixture).max() > 0.01 for p in events)
    assert all(np.array_equal(a.mixture, b.mixture) for a, b in zip(events, heldout_events(2)))
    training_rng = np.random.default_rng(7 + 2)  # the default recipe's tagger-data stream (seed 7 + 2)
    training = [synthesize_event(kind, training_rng, 4.0) for kind in EVENT_GENERATORS]
    assert not any(np.allclose(t[: len(e.mixture)], e.mixture[: len(t)]) for t in training for e in events)
