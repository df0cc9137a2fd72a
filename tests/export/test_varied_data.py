"""Varied training songs: held-out sources never reach training, exact stems and drum onsets, stem-level
augmentation, onset targets on the device's frames, and the warm start from a pack's ONNX separator."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.errors import ConfigError
from edge.pack import load_pack
from export.data.augment import augment_segment, microphone_path
from export.data.source_holdout import HELDOUT_SOURCES, check_training_source, is_heldout_source
from export.data.synth_instruments import DRUM_CLASSES, TONAL_FAMILIES, draw_params, render_note
from export.data.varied_songs import STEMS, draw_sources, render_varied_song, source_pool
from tests.export.conftest import DEFAULT_RECIPE

SAMPLE_RATE_HZ = 16_000


def test_every_held_out_source_is_refused_and_never_drawn_for_training() -> None:
    for source in HELDOUT_SOURCES:
        with pytest.raises(ConfigError, match="held out"):
            check_training_source(source)
    assert check_training_source("synth:fm") == "synth:fm"
    for stem in STEMS:
        train, heldout = set(source_pool("train", stem)), set(source_pool("heldout", stem))
        assert train and heldout and not train & heldout
        assert not any(is_heldout_source(source) for source in train)
    rng = np.random.default_rng(0)
    drawn = {source for _ in range(300) for source in draw_sources(rng, "train").all()}
    assert not drawn & HELDOUT_SOURCES
    held = {source for _ in range(300) for source in draw_sources(rng, "heldout").all()}
    assert held <= HELDOUT_SOURCES


def test_at_least_two_whole_sources_of_each_kind_are_held_out() -> None:
    kinds: dict[str, set[str]] = {}
    for source in HELDOUT_SOURCES:
        kind, _, name = source.partition(":")
        kinds.setdefault(kind, set()).add(name)
    assert len(kinds["soundfont"]) >= 2 and len(kinds["kit"]) >= 2 and len(kinds["synth"]) >= 2
    assert len(kinds["voice"]) >= 2


@pytest.mark.parametrize("family", TONAL_FAMILIES)
def test_every_synth_family_renders_a_pitched_note_without_aliasing(family: str) -> None:
    rng = np.random.default_rng(3)
    params = draw_params(family, rng, "lead")
    params.update(drive=0.0, vibrato_depth=0.0)
    note = render_note(family, params, 69.0, 0.4, 0.8, rng)  # A4, 440 Hz
    assert np.isfinite(note).all() and 0.79 < np.abs(note).max() < 0.81
    spectrum = np.abs(np.fft.rfft(note[: SAMPLE_RATE_HZ // 4] * np.hanning(SAMPLE_RATE_HZ // 4)))
    frequencies = np.fft.rfftfreq(SAMPLE_RATE_HZ // 4, 1 / SAMPLE_RATE_HZ)
    # the strongest component below 3 kHz sits on a harmonic of 440 Hz (formants may favour a higher harmonic)
    low = frequencies < 3000
    peak_hz = frequencies[low][np.argmax(spectrum[low])]
    assert abs(peak_hz / 440.0 - round(peak_hz / 440.0)) < 0.05, peak_hz


def test_a_varied_song_has_exact_stems_and_onsets_where_the_drums_start() -> None:
    rng = np.random.default_rng(11)
    song = render_varied_song(rng, 4, "train")
    assert song.stems.shape[0] == len(STEMS) and song.stems.dtype == np.float32
    assert abs(float(np.abs(song.stems.sum(axis=0)).max()) - 0.9) < 1e-3
    assert set(song.onsets_s) == set(DRUM_CLASSES)
    drums = song.stems[STEMS.index("drums")]
    onsets = np.sort(np.concatenate(list(song.onsets_s.values())))
    assert len(onsets) > 0  # seed 11's score has drum sections
    assert np.all(np.diff(onsets) >= 0)
    first = int(round(onsets[0] * SAMPLE_RATE_HZ))
    before = np.abs(drums[: max(first - 64, 0)]).max(initial=0.0)
    after = np.abs(drums[first : first + 800]).max()
    assert before < 1e-3 * max(after, 1e-9) and after > 1e-3


def test_augmentation_keeps_targets_exact_and_its_noise_belongs_to_no_stem() -> None:
    rng = np.random.default_rng(5)
    stems = (rng.standard_normal((4, 8000)) * 0.1).astype(np.float32)
    same, noise = augment_segment(stems, rng, 0.0, SAMPLE_RATE_HZ)
    np.testing.assert_array_equal(same, stems)
    assert not noise.any()
    changed, noise = augment_segment(stems, np.random.default_rng(1), 1.0, SAMPLE_RATE_HZ)
    assert changed.shape == stems.shape and np.isfinite(changed).all()
    assert not np.allclose(changed, stems)
    mic_stems, mic_noise = microphone_path(stems, np.random.default_rng(2), SAMPLE_RATE_HZ)
    assert mic_noise.shape == (8000,) and 0 < np.sqrt(np.mean(mic_noise**2)) < np.sqrt(np.mean(mic_stems.sum(0) ** 2))


def test_onset_targets_mark_the_frames_the_recipe_names_after_the_first_that_hears_the_hit(tmp_path: Path) -> None:
    from export.distill import HOP, N_FFT, SeparatorBatches, SeparatorData, SeparatorSong, causal_stft
    from export.recipe import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "tiny.toml").with_out_dir(tmp_path)
    n_samples = N_FFT + (recipe.training.segment_frames - 1) * HOP
    hit = 1000 + N_FFT  # sample of the hit inside the segment (the segment starts at 0)
    stems = np.zeros((4, n_samples + 10), np.float32)
    stems[1, hit] = 1.0
    song = SeparatorSong(stems, (np.array([hit]), np.array([], np.int64), np.array([], np.int64)))
    batches = SeparatorBatches(SeparatorData([song], []), recipe, np.random.default_rng(0), augment=False)
    targets = batches._onset_targets(song, 0)
    assert targets is not None
    energy = causal_stft(torch.from_numpy(stems[1, :n_samples]), torch.ones(N_FFT)).abs().sum(-1).numpy()
    first_frame = int(np.argmax(energy > 0))
    assert np.flatnonzero(targets[:, 0]).tolist() == [first_frame, first_frame + 1]
    assert not targets[:, 1:].any()
    later = dataclasses.replace(recipe, training=dataclasses.replace(recipe.training, onset_target_frames=(1, 2)))
    shifted = SeparatorBatches(SeparatorData([song], []), later, np.random.default_rng(0), augment=False)
    assert np.flatnonzero(shifted._onset_targets(song, 0)[:, 0]).tolist() == [first_frame + 1, first_frame + 2]


def test_warm_start_reproduces_the_bundled_separator_and_refuses_another_architecture() -> None:
    from export.distill import make_separator
    from export.recipe import load_recipe
    from export.students.band_split import BandSplitConfig, BandSplitSeparator
    from export.students.onnx_weights import load_weights_from_onnx

    pack = load_pack(None)
    artifact = pack.root / pack.separator.artifact("onnx", "fp32").file
    model = make_separator(load_recipe(DEFAULT_RECIPE)).eval()  # the recipe the pack was made from
    fresh = load_weights_from_onnx(model, artifact, (torch.rand(1, 12, 257) * 4, *model.initial_states(1)))
    assert all(name.startswith("onset_") for name in fresh)  # only a head the artifact lacks starts fresh
    other = BandSplitSeparator(BandSplitConfig(n_channels=16, dilations=(1, 2))).eval()
    with pytest.raises(ConfigError, match="does not reproduce"):
        load_weights_from_onnx(other, artifact, (torch.rand(1, 12, 257) * 4, *other.initial_states(1)))


def test_hits_a_few_ms_apart_are_one_felt_event() -> None:
    from export.data.varied_songs import SAME_HIT_S, merge_close_onsets

    times = np.array([1.0, 0.5, 1.004, 1.2, 1.2 + SAME_HIT_S + 1e-6, 0.49])
    np.testing.assert_allclose(merge_close_onsets(times, SAME_HIT_S), [0.49, 1.0, 1.2, 1.2 + SAME_HIT_S + 1e-6])
