"""Features: band energies, spectral-flux onsets, vocal pitch, tag hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from edge.haptics.features import (
    BandFluxOnsets,
    HysteresisParams,
    SpectralFluxOnsets,
    TagHysteresis,
    band_energies,
    band_mask,
    best_pitch_candidate,
    best_pitch_candidate_rows,
    pitch_candidates,
    vocal_pitch_hz,
)
from edge.analysis import analyse_signals
from tests.edge.haptics.signals import FRAME_RATE_HZ, HOP, N_FFT, SAMPLE_RATE_HZ, harmonic_tone, noise_bursts, sine
from tests.streaming import assert_streaming_equals_offline


def _mag(audio: np.ndarray) -> np.ndarray:
    return analyse_signals(audio, SAMPLE_RATE_HZ, N_FFT, HOP).mixture_mag


def test_band_energies_put_a_sine_in_its_band() -> None:
    energies = band_energies(_mag(sine(100.0, 1.0)), N_FFT, SAMPLE_RATE_HZ, [(30, 250), (250, 1000), (1000, 8000)])
    steady = energies[10:].mean(axis=0)
    assert steady[0] > 1000 * steady[1] and steady[0] > 1000 * steady[2]


def test_band_mask_edges() -> None:
    mask = band_mask(N_FFT, SAMPLE_RATE_HZ, 250.0, 500.0)
    freqs_hz = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE_HZ / N_FFT
    assert freqs_hz[mask].min() >= 250.0 and freqs_hz[mask].max() < 500.0


def _onset_times_s(strengths: np.ndarray) -> np.ndarray:
    return (np.flatnonzero(strengths > 0) + 1) * HOP / SAMPLE_RATE_HZ


def test_onsets_find_every_hit_within_one_window() -> None:
    onsets_s = [0.3, 0.55, 0.8, 1.3, 1.45, 2.0]
    strengths = SpectralFluxOnsets(FRAME_RATE_HZ).process(_mag(noise_bursts(onsets_s, 2.5)))
    detected = _onset_times_s(strengths)
    assert len(detected) == len(onsets_s)
    delays_s = detected - np.array(onsets_s)
    assert np.all(delays_s >= 0) and np.all(delays_s <= N_FFT / SAMPLE_RATE_HZ)


def test_onsets_ignore_steady_tones_and_silence() -> None:
    detector = SpectralFluxOnsets(FRAME_RATE_HZ)
    strengths = detector.process(_mag(np.concatenate([np.zeros(8000, np.float32), sine(300.0, 2.0)])))
    assert len(_onset_times_s(strengths)) == 1  # only where the tone starts


def test_onsets_are_nearly_level_independent() -> None:
    onsets_s = [0.3, 0.8, 1.3]
    loud = _onset_times_s(SpectralFluxOnsets(FRAME_RATE_HZ).process(_mag(noise_bursts(onsets_s, 1.6, amplitude=0.9))))
    for amplitude in (0.003, 0.03):  # 50 dB and 30 dB quieter
        quiet = _onset_times_s(
            SpectralFluxOnsets(FRAME_RATE_HZ).process(_mag(noise_bursts(onsets_s, 1.6, amplitude=amplitude)))
        )
        assert quiet.shape == loud.shape
        assert np.all(np.abs(quiet - loud) <= 2 * HOP / SAMPLE_RATE_HZ + 1e-9)  # within two hops


def test_onsets_respect_the_refractory_time() -> None:
    strengths = SpectralFluxOnsets(FRAME_RATE_HZ).process(_mag(noise_bursts([0.3, 0.32], 0.6)))
    assert len(_onset_times_s(strengths)) == 1


def test_onsets_stream_like_offline() -> None:
    mag = _mag(noise_bursts(list(np.arange(0.1, 3.0, 0.23)), 3.0) + sine(80.0, 3.0, 0.05))
    assert_streaming_equals_offline(lambda: SpectralFluxOnsets(FRAME_RATE_HZ), mag, max_block=40)


@pytest.mark.parametrize(
    "bands_hz", [[(2000.0, 8000.0)], [(20.0, 200.0), (200.0, 8000.0)], [(100.0, 400.0), (300.0, 900.0)]]
)
def test_band_flux_one_hop_paths_equal_the_gather_exactly(bands_hz) -> None:
    """Hop by hop, the cheap paths (one band: dot products; bands that are runs: shifted maxima) give the very bits
    of the general in-band gather, and every band of a multi-band detector equals a detector of that band alone."""
    mag = _mag(noise_bursts(list(np.arange(0.1, 3.0, 0.23)), 3.0) + sine(80.0, 3.0, 0.05))
    masks = [band_mask(N_FFT, SAMPLE_RATE_HZ, *band) for band in bands_hz]
    fast, general = BandFluxOnsets(FRAME_RATE_HZ, masks), BandFluxOnsets(FRAME_RATE_HZ, masks)
    if general._runs:  # (overlapping bands are not runs: both take the gather)
        general._runs = general._one_run = False
        general._flux_weights = general._flux_weights[general._selected]  # the gather's (n_selected, n_bands) layout
        general.reset()
    hops = [(fast.process(mag[i : i + 1]), general.process(mag[i : i + 1])) for i in range(len(mag))]
    fast_out, general_out = (np.concatenate(side) for side in zip(*hops))
    assert (fast_out > 0).sum() >= 5
    np.testing.assert_array_equal(fast_out, general_out)
    for band, mask in enumerate(masks):
        alone = BandFluxOnsets(FRAME_RATE_HZ, [mask])
        np.testing.assert_array_equal(
            np.concatenate([alone.process(mag[i : i + 1]) for i in range(len(mag))])[:, 0], fast_out[:, band]
        )


def test_pitch_candidate_of_one_frame_equals_the_block() -> None:
    """The one-frame path on numpy scalars picks the same candidate and voicing as the array path, frame by frame
    (voiced tones, noise, silence)."""
    mag = np.concatenate(
        [_mag(harmonic_tone(196.0, 0.5)), _mag(noise_bursts([0.1], 0.3)), np.zeros((5, 257), np.float32)]
    )
    _, weights = pitch_candidates(N_FFT, SAMPLE_RATE_HZ)
    best, voiced = best_pitch_candidate(mag, weights)
    one_by_one = [best_pitch_candidate_rows(mag[i : i + 1], weights) for i in range(len(mag))]
    assert voiced.any() and not voiced.all()
    assert [frame_best[0] for frame_best, _ in one_by_one] == best.tolist()
    assert [frame_voiced[0] for _, frame_voiced in one_by_one] == voiced.tolist()


@pytest.mark.parametrize("f0_hz", [110.0, 196.0, 330.0])
def test_vocal_pitch_of_a_harmonic_tone(f0_hz: float) -> None:
    pitch_hz = vocal_pitch_hz(_mag(harmonic_tone(f0_hz, 0.5)), N_FFT, SAMPLE_RATE_HZ)[8:]
    assert np.median(np.abs(pitch_hz - f0_hz)) <= 10.0


def test_vocal_pitch_is_zero_in_silence() -> None:
    assert np.all(vocal_pitch_hz(np.zeros((10, N_FFT // 2 + 1)), N_FFT, SAMPLE_RATE_HZ) == 0)


def test_tag_hysteresis_does_not_flicker() -> None:
    rng = np.random.default_rng(1)
    probs = np.clip(0.4 + 0.15 * rng.standard_normal((800, 1)), 0, 1)  # noisy, often above 0.5 for a frame
    probs[200:400] = 0.9  # the event
    probs[600:] = 0.05  # really gone
    raw_switches = int(np.count_nonzero(np.diff((probs[:, 0] > 0.5).astype(int))))
    active = TagHysteresis(1, FRAME_RATE_HZ).process(probs)[:, 0]
    assert raw_switches > 20
    assert int(np.count_nonzero(np.diff(active.astype(int)))) == 2  # on once, off once
    assert not active[:200].any() and active[230:600].all() and not active[680:].any()


def test_tag_hysteresis_holds_for_the_minimum_time() -> None:
    params = HysteresisParams(smoothing_s=0.0, on_threshold=0.5, off_threshold=0.3, min_hold_s=0.5)
    probs = np.zeros((200, 1))
    probs[10:12] = 1.0  # a 16 ms blip
    active = TagHysteresis(1, FRAME_RATE_HZ, params).process(probs)[:, 0]
    assert active[10 : 10 + int(0.5 * FRAME_RATE_HZ)].all() and not active[10 + int(0.5 * FRAME_RATE_HZ) + 1 :].any()


def test_tag_hysteresis_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError):
        TagHysteresis(1, FRAME_RATE_HZ, HysteresisParams(on_threshold=0.3, off_threshold=0.5))


def test_tag_hysteresis_streams_like_offline() -> None:
    probs = np.random.default_rng(2).random((400, 3))
    result = assert_streaming_equals_offline(lambda: TagHysteresis(3, FRAME_RATE_HZ), probs, max_block=50)
    assert result.any()
