"""Renderer stages: perceptual equalisation, compression, smoothing, ERM kicks, limits, power cap, phantom
sensation, carriers, patterns."""

from __future__ import annotations

import numpy as np
import pytest

from edge.haptics.patterns import PATTERN_FUNCTIONS
from edge.haptics.stages import (
    OFF_BELOW,
    ActuatorLimits,
    AttackRelease,
    CompressedAmplitude,
    ErmKick,
    FrameChain,
    KickedLimits,
    NormalisedEnvelope,
    PeakNormaliser,
    PulseShaper,
    apply_limits,
    cap_total_power,
    compress,
    one_pole_coefficient,
    phantom_pan,
    tactile_weights,
    threshold_gains,
    vibrotactile_threshold_db,
)
from tests.edge.haptics.signals import FRAME_RATE_HZ, HOP, SAMPLE_RATE_HZ
from tests.streaming import assert_streaming_equals_offline

RNG = np.random.default_rng(7)


def test_threshold_curve_is_lowest_near_250_hz_and_blind_above_1_khz() -> None:
    freqs_hz = np.array([20.0, 50.0, 100.0, 200.0, 250.0, 300.0, 500.0, 900.0, 1000.0, 4000.0])
    threshold_db = vibrotactile_threshold_db(freqs_hz)
    assert np.argmin(threshold_db) == 4 and threshold_db[4] == 0.0
    assert np.all(np.diff(threshold_db[1:5]) < 0) and np.all(np.diff(threshold_db[4:8]) > 0)
    assert np.isinf(threshold_db[8:]).all()
    assert tactile_weights(freqs_hz)[4] == 1.0 and np.all(tactile_weights(freqs_hz)[8:] == 0.0)


def test_threshold_gains_drive_sensitive_carriers_less() -> None:
    gains = threshold_gains(np.array([250.0, 170.0, 60.0, 1200.0]))
    assert gains[2] == pytest.approx(1.0)  # least sensitive carrier keeps full drive
    assert gains[0] < gains[1] < gains[2]
    assert gains[3] == 0.0  # cannot be felt
    # equal sensation: gain ratio matches the threshold difference
    assert 20 * np.log10(gains[1] / gains[0]) == pytest.approx(float(vibrotactile_threshold_db(170.0)), abs=1e-9)


def test_compress_gates_and_lifts_quiet_parts() -> None:
    x = np.array([0.0, 0.01, 0.1, 0.5, 1.0])
    y = compress(x, exponent=0.5, threshold=0.02)
    assert y[0] == 0 and y[1] == 0 and y[-1] == pytest.approx(1.0)
    assert np.all(y[2:4] > x[2:4])  # quiet parts come up
    assert np.all(np.diff(y) >= 0)


def test_attack_is_faster_than_release() -> None:
    step = np.concatenate([np.ones(50), np.zeros(100)])[:, None]
    out = AttackRelease(1, FRAME_RATE_HZ, attack_s=0.005, release_s=0.1).process(step)[:, 0]
    assert out[2] > 0.9  # 16 ms after the step up
    assert out[52] > 0.7  # 16 ms after the step down it is still high
    assert one_pole_coefficient(0.0, FRAME_RATE_HZ) == 1.0


@pytest.mark.parametrize(
    "make_stage",
    [
        lambda: AttackRelease(3, FRAME_RATE_HZ, 0.005, 0.08),
        lambda: PeakNormaliser(3, FRAME_RATE_HZ, decay_s=0.5),
        lambda: PulseShaper(3, FRAME_RATE_HZ),
        lambda: ErmKick(np.array([0.04, 0.0, 0.02]), FRAME_RATE_HZ),
        lambda: FrameChain(
            [
                PeakNormaliser(3, FRAME_RATE_HZ, decay_s=0.5),
                CompressedAmplitude(3, 0.6, 0.05),
                AttackRelease(3, FRAME_RATE_HZ, 0.005, 0.08),
            ]
        ),
    ],
    ids=["attack-release", "peak-normaliser", "pulse-shaper", "erm-kick", "chain"],
)
def test_stateful_stages_stream_like_offline(make_stage) -> None:
    signal = RNG.random((500, 3)) * (RNG.random((500, 3)) > 0.7)
    result = assert_streaming_equals_offline(make_stage, signal, max_block=60)
    assert result.shape == (500, 3) and np.all((result >= 0) & (result <= 1))


def test_peak_normaliser_follows_the_recent_peak() -> None:
    power = np.concatenate([np.full(100, 4.0), np.full(400, 1.0)])[:, None]
    out = PeakNormaliser(1, FRAME_RATE_HZ, decay_s=0.5).process(power)[:, 0]
    assert out[50] == pytest.approx(1.0)
    assert out[101] == pytest.approx(0.25, abs=0.01)  # just after the drop: relative to the old peak
    assert out[-1] == pytest.approx(1.0)  # the peak has decayed to the new level


def test_pulse_shaper_jumps_and_decays() -> None:
    strengths = np.zeros((60, 1))
    strengths[5] = 1.0
    out = PulseShaper(1, FRAME_RATE_HZ, decay_s=0.06).process(strengths)[:, 0]
    assert out[4] == 0 and out[5] == 1.0
    assert np.all(np.diff(out[5:]) < 0) and out[5 + int(0.06 * FRAME_RATE_HZ)] == pytest.approx(np.exp(-1), abs=0.05)


def _motor_speed(drive: np.ndarray, spinup_s: float) -> np.ndarray:
    """The ERM model the kick inverts, integrated independently: speed follows drive with one time constant."""
    alpha = 1 - np.exp(-1 / (spinup_s * FRAME_RATE_HZ))
    speed, out = 0.0, []
    for value in drive:
        speed += alpha * (value - speed)
        out.append(speed)
    return np.array(out)


def test_erm_kick_overdrives_rises_and_brakes_falls() -> None:
    target = np.concatenate([np.zeros(5), np.full(40, 0.5), np.full(40, 0.1)])[:, None]
    drive = ErmKick(np.array([0.04]), FRAME_RATE_HZ).process(target)[:, 0]
    assert drive[5] == 1.0  # kick
    assert drive[45] == 0.0  # brake (drive off)
    assert drive[30] == pytest.approx(0.5) and drive[80] == pytest.approx(0.1)  # steady: unchanged
    with_kick = _motor_speed(drive, 0.04)
    without = _motor_speed(target[:, 0], 0.04)
    settle = lambda speed: int(np.argmax(np.abs(speed[5:45] - 0.5) < 0.05))  # noqa: E731
    assert settle(with_kick) < settle(without) / 3


def test_erm_kick_passes_lras_through() -> None:
    target = RNG.random((50, 1))
    np.testing.assert_allclose(ErmKick(np.array([0.0]), FRAME_RATE_HZ).process(target), target)


def test_limits_skip_the_dead_zone_and_cap() -> None:
    x = np.array([[0.0, OFF_BELOW / 2, 0.5, 1.0]])
    y = apply_limits(x, min_drive=np.full(4, 0.2), max_drive=np.full(4, 0.8))
    np.testing.assert_allclose(y, [[0.0, 0.0, 0.5, 0.8]])


def test_power_cap_scales_uniformly() -> None:
    x = np.array([[1.0, 1.0, 0.5, 0.0], [0.2, 0.2, 0.2, 0.2]])
    y = cap_total_power(x, np.ones(4), max_total_power=1.25)
    assert y[0].sum() == pytest.approx(1.25) and y[0, 0] / y[0, 2] == pytest.approx(2.0)
    np.testing.assert_allclose(y[1], x[1])


def test_the_per_frame_stages_do_what_the_array_functions_do() -> None:
    intensity = RNG.random((400, 6)) * 1.2 - 0.1
    intensity[::7] = 1.0  # frames over the power cap
    low, high, power = (
        np.array([0.0, 0.1, 0.2, 0.0, 0.3, 0.05]),
        np.array([1.0, 0.9, 1.0, 0.5, 0.8, 1.0]),
        np.arange(1.0, 7.0),
    )
    expected = np.clip(cap_total_power(apply_limits(intensity, low, high), power, 6.0), 0.0, 1.0)
    assert (intensity @ power > 6.0).any() and (intensity @ power < 6.0).any()
    np.testing.assert_allclose(ActuatorLimits(low, high, power, 6.0).process(intensity), expected, rtol=0, atol=1e-12)
    power_in = RNG.random((50, 4))
    np.testing.assert_allclose(
        CompressedAmplitude(4, 0.6, 0.05).process(power_in), compress(np.sqrt(power_in), 0.6, 0.05), rtol=0, atol=1e-12
    )


def test_kicked_limits_is_the_kick_then_the_limits_exactly() -> None:
    """The renderer's one-pass output stage gives bit for bit what ErmKick then ActuatorLimits give, over and under
    the power cap, on ERMs and LRAs, in any block split."""
    target = RNG.random((300, 6)) * (RNG.random((300, 6)) > 0.3)
    target[::9] = 1.0  # frames over the power cap
    spinup_s = np.array([0.04, 0.0, 0.02, 0.04, 0.0, 0.06])
    low, high, power = np.array([0.12, 0.0, 0.2, 0.1, 0.3, 0.0]), np.array([1.0, 0.9, 1.0, 0.5, 0.8, 1.0]), np.ones(6)
    chained = FrameChain([ErmKick(spinup_s, FRAME_RATE_HZ), ActuatorLimits(low, high, power, 3.0)]).process(target)
    make = lambda: KickedLimits(ErmKick(spinup_s, FRAME_RATE_HZ), ActuatorLimits(low, high, power, 3.0))  # noqa: E731
    assert (chained @ power >= 2.999).any() and (chained > 0).mean() > 0.3
    np.testing.assert_array_equal(make().process(target), chained)
    assert_streaming_equals_offline(make, target, max_block=40, atol=0.0)


def test_normalised_envelope_is_the_three_stages_exactly() -> None:
    """The routes' one-pass envelope gives bit for bit what the normaliser, the compressed amplitude and the
    attack/release smoother give chained, in any block split."""
    power = RNG.random((400, 3)) ** 3 * (RNG.random((400, 3)) > 0.2) * np.array([1.0, 1e-3, 30.0])
    power[150:300] *= 1e-4  # quiet: under the gate while the peak decays

    def stages() -> tuple[PeakNormaliser, CompressedAmplitude, AttackRelease]:
        return (
            PeakNormaliser(3, FRAME_RATE_HZ, decay_s=0.5),
            CompressedAmplitude(3, 0.6, 0.05),
            AttackRelease(3, FRAME_RATE_HZ, 0.005, 0.08),
        )

    chained = FrameChain(list(stages())).process(power)
    assert (chained > 0.5).any() and (chained < 0.01).any()
    np.testing.assert_array_equal(NormalisedEnvelope(*stages()).process(power), chained)
    assert_streaming_equals_offline(lambda: NormalisedEnvelope(*stages()), power, max_block=40, atol=0.0)


def test_phantom_pan_keeps_energy_and_moves() -> None:
    position = np.linspace(0, 1, 41)
    out = phantom_pan(position, np.ones(41), 5)
    np.testing.assert_allclose((out**2).sum(axis=1), 1.0)
    centroid = (out**2 @ np.arange(5)) / 4
    np.testing.assert_allclose(centroid, position, atol=1e-9)
    assert np.count_nonzero(out[20]) <= 2  # only neighbours


def test_patterns_are_distinct_and_in_range() -> None:
    elapsed_s = np.arange(0, 3.0, HOP / SAMPLE_RATE_HZ)
    rendered = {name: pattern(elapsed_s, 4) for name, pattern in PATTERN_FUNCTIONS.items()}
    for name, out in rendered.items():
        assert out.shape == (len(elapsed_s), 4) and out.min() >= 0 and out.max() <= 1, name
        assert out.max() > 0.5, name
    names = list(rendered)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert np.abs(rendered[first] - rendered[second]).mean() > 0.05, (first, second)
