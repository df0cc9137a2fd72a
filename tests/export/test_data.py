"""Data stage pieces: teacher cache, skipped files, real drum sequencing, remix, MIDI files, sound events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError
from export.data.augment import remix, scale_to_peak, swap_stems
from export.data.sources import LoadReport, debian_data_dir, load_audio_files, midi_files
from export.data.teacher_cache import TeacherCache, cache_key


def test_teacher_cache_computes_once_and_recovers_from_corruption(tmp_path: Path) -> None:
    cache = TeacherCache(tmp_path)
    audio = np.linspace(-1, 1, 1000, dtype=np.float32)
    calls = []

    def compute(a: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(1)
        return {"probabilities": a[:10] * 2}

    first = cache.get_or_compute(audio, "teacher-a", compute)
    second = cache.get_or_compute(audio, "teacher-a", compute)
    np.testing.assert_array_equal(first["probabilities"], second["probabilities"])
    assert len(calls) == 1 and (cache.n_hits, cache.n_misses) == (1, 1)
    cache.get_or_compute(audio, "teacher-b", compute)  # another teacher id is another entry
    assert len(calls) == 2
    cache.path_for(cache_key(audio, "teacher-a")).write_bytes(b"not an npz")
    again = cache.get_or_compute(audio, "teacher-a", compute)
    assert len(calls) == 3
    np.testing.assert_array_equal(again["probabilities"], first["probabilities"])


def test_unreadable_files_are_skipped_and_counted(tmp_path: Path) -> None:
    import soundfile

    good = tmp_path / "good.wav"
    soundfile.write(str(good), np.zeros(8000, np.float32) + 0.1, 8000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    missing = tmp_path / "missing.flac"
    report = LoadReport()
    loaded = load_audio_files([good, bad, missing], report)
    assert [path for path, _ in loaded] == [good]
    assert len(loaded[0][1]) == 16_000  # resampled from 8 kHz
    assert report.n_loaded == 1 and report.n_skipped == 2
    assert {path for path, _ in report.skipped} == {str(bad), str(missing)}


def test_missing_debian_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from export.data import sources

    monkeypatch.setitem(sources.DEBIAN_DATA, "wesnoth-1.16-music", tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="apt-get install --no-install-recommends wesnoth-1.16-music"):
        debian_data_dir("wesnoth-1.16-music")


def test_real_drum_samples_land_on_the_drum_notes() -> None:
    from export.data.drum_samples import load_drum_kit, sequence_drums
    from export.data.multitrack import drum_onsets, generate_song

    kit = load_drum_kit(LoadReport(), ("sonic-pi-samples",))
    assert all(kit.samples[role] for role in ("kick", "snare", "closed_hat"))
    song = generate_song(5, n_sections=2)
    n_samples = int(song.duration_s * 16_000)
    stem = sequence_drums(song, kit, n_samples, np.random.default_rng(0))
    onsets = drum_onsets(song)
    assert len(onsets) > 0
    first = int(round(onsets[0] * 16_000))
    assert np.all(stem[: first - 1] == 0), "sound before the first drum hit"
    assert np.abs(stem[first : first + 400]).max() > 0.05


def test_remix_keeps_stems_exact_and_never_drops_all() -> None:
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((4, 100)).astype(np.float32)
    for _ in range(20):
        mixed = remix(stems, np.zeros(4), drop_probability=0.99, rng=rng)
        assert np.count_nonzero(np.abs(mixed).sum(axis=1)) >= 1
    gained = remix(stems, np.full(4, 20 * np.log10(2.0)), drop_probability=0.0, rng=rng)
    np.testing.assert_allclose(gained, stems * 2, rtol=1e-5)
    other = -stems
    swapped = swap_stems(stems, other, rng)
    assert all(np.array_equal(s, a) or np.array_equal(s, b) for s, a, b in zip(swapped, stems, other))
    scaled = scale_to_peak(stems, 0.5, rng)
    assert abs(float(np.abs(scaled.sum(axis=0)).max()) - 0.5) < 1e-5


def test_midi_file_renders_per_stem_and_stops_at_the_cut() -> None:
    from export.data.midi_files import render_midi_file

    stems = render_midi_file(midi_files()[0], max_seconds=12.0)
    assert set(stems) == {"vocals", "drums", "bass", "other"}
    lengths = {len(s) for s in stems.values()}
    assert lengths == {192_000}
    assert sum(float(np.abs(s).max()) > 0.01 for s in stems.values()) >= 2


def test_sound_events_are_bounded_and_distinct() -> None:
    from export.data.sound_events import EVENT_GENERATORS, synthesize_event

    rng = np.random.default_rng(0)
    events = {kind: synthesize_event(kind, rng, 2.0) for kind in EVENT_GENERATORS}
    for kind, audio in events.items():
        assert audio.shape == (32_000,) and np.abs(audio).max() <= 1.0 and np.abs(audio).max() > 0.05, kind
    assert not np.allclose(events["siren"], events["alarm"])


def test_coloured_noise_is_coloured_and_band_limited() -> None:
    """Each coloured texture keeps (almost) no energy outside the band it drew, and the colours differ."""
    from export.data.sound_events import noise_texture

    rng = np.random.default_rng(4)
    slopes = []
    for _ in range(12):
        power, frequency_hz = _power_spectrum(noise_texture(rng, 2.0, "coloured"))
        low, high = power[(frequency_hz > 1000) & (frequency_hz < 1400)].mean(), power[frequency_hz < 15].mean()
        assert high < low, "energy below the lowest possible band edge (20 Hz)"
        slopes.append(power[(frequency_hz > 200) & (frequency_hz < 700)].mean() / low)
    assert max(slopes) > 3 * min(slopes), "every texture has the same colour"


def test_noise_textures_are_bounded_and_each_kind_has_its_character() -> None:
    """Every kind peaks at 0.3 and is not silent; rain is mostly above 1.5 kHz, wind gusts mostly below 300 Hz, and
    crackle's clicks make it far more impulsive (kurtosis) than plain coloured noise."""
    from export.data.sound_events import NOISE_TEXTURES, noise_texture

    rng = np.random.default_rng(5)
    stats: dict[str, list[tuple[float, float, float]]] = {}
    for kind in NOISE_TEXTURES:
        for _ in range(6):
            audio = noise_texture(rng, 2.0, kind)
            assert audio.shape == (32_000,) and audio.dtype == np.float32
            assert np.abs(audio).max() == pytest.approx(0.3, abs=1e-6) and float(np.sqrt(np.mean(audio**2))) > 0.01
            power, frequency_hz = _power_spectrum(audio)
            kurtosis = float(np.mean(audio.astype(np.float64) ** 4) / np.mean(audio.astype(np.float64) ** 2) ** 2)
            stats.setdefault(kind, []).append(
                (
                    power[frequency_hz < 300].sum() / power.sum(),
                    power[frequency_hz > 1500].sum() / power.sum(),
                    kurtosis,
                )
            )
    median = {kind: np.median(np.array(values), axis=0) for kind, values in stats.items()}
    assert median["rain"][1] > 0.6 and median["gusts"][0] > 0.8
    assert median["crackle"][2] > 1.5 * median["coloured"][2]


def test_a_repeated_event_sounds_again_one_to_three_seconds_later() -> None:
    from export.data.training_sets import _repeat_later

    event = np.zeros(64_000, np.float32)
    event[100:400] = 1.0
    repeated = _repeat_later(event, np.random.default_rng(0))
    assert np.array_equal(repeated[:16_000], event[:16_000]) and repeated.sum() == 2 * event.sum()
    start = int(np.flatnonzero(repeated[500:])[0]) + 500
    assert 16_000 + 100 <= start <= 48_000 + 100


def _power_spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.abs(np.fft.rfft(audio)) ** 2, np.fft.rfftfreq(len(audio), 1 / 16_000)


def test_chorale_top_voice_is_sung_and_lowest_is_bass() -> None:
    from export.data.midi_files import chorale_paths, render_chorale

    path = chorale_paths(1, np.random.default_rng(3))[0]
    assert path.suffix in (".mxl", ".xml", ".krn", ".mid")
    stems = render_chorale(path, max_seconds=6.0)
    assert set(stems) == {"vocals", "drums", "bass", "other"}
    assert float(np.abs(stems["vocals"]).max()) > 0.05 and float(np.abs(stems["bass"]).max()) > 0.05
    assert not np.any(stems["drums"])


def test_tagger_clips_of_one_source_share_a_split() -> None:
    from export.data.training_sets import VALIDATION_EVERY, split_by_source

    sources = [f"song-{i // 3}" for i in range(30)] + [f"event-{i // 2}" for i in range(20)] + ["silence"]
    splits = split_by_source(sources)
    by_source: dict[str, set[str]] = {}
    for source, split in zip(sources, splits):
        by_source.setdefault(source, set()).add(split)
    assert all(len(s) == 1 for s in by_source.values())
    n_val = sum(s == {"val"} for s in by_source.values())
    assert n_val == len(by_source) // VALIDATION_EVERY and {"song-4", "song-9", "event-4"} <= {
        source for source, s in by_source.items() if s == {"val"}
    }
