"""Small composable stages of the haptic renderer (STYLE.md #14).

Pure functions for what has no memory; classes with ``reset()``/``process(block)`` for what has. Every stateful
stage works on (n_frames, n_channels) float arrays at the control rate (one frame per hop) and gives the same
output for any split of the frames into blocks. Intensities are in [0, 1] unless a docstring says otherwise.
"""

from __future__ import annotations

import math

import numpy as np

# Vibrotactile detection threshold (Pacinian channel, glabrous skin): lowest near 250 Hz, rising by about
# 12 dB per octave on either side; the flat part below 40 Hz belongs to the non-Pacinian channels. Skin does
# not resolve vibration above 1 kHz.
BEST_SENSITIVITY_HZ = 250.0
THRESHOLD_SLOPE_DB_PER_OCTAVE = 12.0
NON_PACINIAN_FLOOR_HZ = 40.0
TACTILE_CUTOFF_HZ = 1000.0
OFF_BELOW = 0.02  # intensities below this are off (2 % is below what a wearer notices on a motor)


def clip01(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] (np.minimum/np.maximum: cheaper than np.clip on the tiny per-hop arrays)."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


def one_pole_coefficient(time_constant_s: float, frame_rate_hz: float) -> float:
    """Per-frame smoothing coefficient of a one-pole filter with ``time_constant_s`` (0 -> no smoothing)."""
    if time_constant_s <= 0.0:
        return 1.0
    return 1.0 - float(np.exp(-1.0 / (time_constant_s * frame_rate_hz)))


def vibrotactile_threshold_db(frequency_hz: np.ndarray | float) -> np.ndarray:
    """Detection threshold in dB relative to the threshold at 250 Hz (0 dB there, > 0 elsewhere, inf >= 1 kHz)."""
    frequency_hz = np.asarray(frequency_hz, dtype=np.float64)
    clamped_hz = np.maximum(frequency_hz, NON_PACINIAN_FLOOR_HZ)
    threshold_db = THRESHOLD_SLOPE_DB_PER_OCTAVE * np.abs(np.log2(clamped_hz / BEST_SENSITIVITY_HZ))
    return np.where(frequency_hz >= TACTILE_CUTOFF_HZ, np.inf, threshold_db)


def tactile_weights(frequency_hz: np.ndarray) -> np.ndarray:
    """Per-frequency power weights that follow skin sensitivity: 1 at 250 Hz, smaller elsewhere, 0 from 1 kHz."""
    return 10.0 ** (-vibrotactile_threshold_db(frequency_hz) / 10.0)


def threshold_gains(carrier_hz: np.ndarray) -> np.ndarray:
    """(n_channels,) drive gains that equalise actuators to the vibrotactile threshold curve.

    An actuator vibrating where skin is more sensitive (closer to 250 Hz) needs less drive for the same
    sensation: its gain is 10 ** ((threshold_dB(carrier) - max threshold_dB) / 20), so the least sensitive
    actuator keeps gain 1 and the same intensity feels the same on every actuator. A carrier at or above 1 kHz
    cannot be felt and gets gain 0.
    """
    threshold_db = vibrotactile_threshold_db(np.asarray(carrier_hz, dtype=np.float64))
    feelable = np.isfinite(threshold_db)
    if not feelable.any():
        return np.zeros(threshold_db.shape)
    headroom_db = float(threshold_db[feelable].max())
    return np.where(feelable, 10.0 ** ((np.where(feelable, threshold_db, 0.0) - headroom_db) / 20.0), 0.0)


class FrameStage:
    """Base of the stateful stages: ``process((n_frames, n_channels))`` applies ``_step`` frame by frame, on plain
    Python floats — these stages hold a handful of channels, and on the device's one-hop call a few float
    operations per channel cost far less than a numpy call each (docs/hot_path.md). State lives in lists.

    The steps clip with conditional expressions (``0.0 if x < 0.0 else 1.0 if x > 1.0 else x``), not with a helper
    function or ``min``/``max``: on the Pi profile a Python call costs ~1–2 k instructions, a comparison ~0.1 k, and
    the result is the same (``min(max(x, 0.0), 1.0)`` keeps -0.0 and NaN as the conditionals do)."""

    n_channels: int

    def _step(self, frame: list[float]) -> list[float]:
        """One frame's (n_channels,) values in, out; advances the state."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the state (stateless stages have none)."""

    def process(self, block: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        rows = self.process_rows(np.asarray(block, dtype=np.float64).tolist())
        return np.array(rows, dtype=dtype).reshape(len(rows), self.n_channels)

    def process_rows(self, rows: list[list[float]]) -> list[list[float]]:
        """:meth:`process` on Python floats, one list per frame (for a caller that goes on in Python)."""
        return [self._step(frame) for frame in rows]


class FrameChain(FrameStage):
    """Stages applied one after the other to each frame, converted to and from numpy once for all of them."""

    def __init__(self, stages: list[FrameStage]) -> None:
        self.stages = stages
        self.n_channels = stages[-1].n_channels

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()

    def _step(self, frame: list[float]) -> list[float]:
        for stage in self.stages:
            frame = stage._step(frame)
        return frame


def compress(intensity: np.ndarray, exponent: float = 0.5, threshold: float = 0.02) -> np.ndarray:
    """Static compression: ``((x - threshold) / (1 - threshold)) ** exponent`` above the gate, 0 below it."""
    above = clip01((intensity - threshold) / (1.0 - threshold))
    return above**exponent


class CompressedAmplitude(FrameStage):
    """Power in [0, 1] -> amplitude (its square root) through :func:`compress`, per channel, frame by frame."""

    def __init__(self, n_channels: int, exponent: float, threshold: float) -> None:
        self.n_channels = n_channels
        self.exponent = exponent
        self.threshold = threshold

    def _step(self, powers: list[float]) -> list[float]:
        threshold, exponent, span = self.threshold, self.exponent, 1.0 - self.threshold
        sqrt = math.sqrt
        return [
            (0.0 if (x := (sqrt(power) - threshold) / span) < 0.0 else 1.0 if x > 1.0 else x) ** exponent
            for power in powers
        ]


class AttackRelease(FrameStage):
    """Envelope follower with separate attack and release time constants, per channel."""

    def __init__(self, n_channels: int, frame_rate_hz: float, attack_s: float, release_s: float) -> None:
        self.n_channels = n_channels
        self.attack = one_pole_coefficient(attack_s, frame_rate_hz)
        self.release = one_pole_coefficient(release_s, frame_rate_hz)
        self.reset()

    def reset(self) -> None:
        self._state = [0.0] * self.n_channels

    def _step(self, targets: list[float]) -> list[float]:
        attack, release = self.attack, self.release
        self._state = [
            state + (attack if target > state else release) * (target - state)
            for target, state in zip(targets, self._state)
        ]
        return self._state


class PeakNormaliser(FrameStage):
    """Automatic gain: divides by a peak tracker that jumps up at once and decays with ``decay_s``.

    Input is non-negative power or level per channel; output is in [0, 1]. ``floor`` keeps silence at zero
    instead of amplifying noise to full scale.
    """

    def __init__(self, n_channels: int, frame_rate_hz: float, decay_s: float = 3.0, floor: float = 1e-6) -> None:
        self.n_channels = n_channels
        self.decay = float(np.exp(-1.0 / (decay_s * frame_rate_hz)))
        self.floor = floor
        self.reset()

    def reset(self) -> None:
        self._peak = [self.floor] * self.n_channels

    def _step(self, levels: list[float]) -> list[float]:
        decay, floor = self.decay, self.floor
        peaks, out = [], []
        for level, peak in zip(levels, self._peak):
            peak *= decay
            peak = floor if floor > peak else peak
            peak = peak if peak > level else level  # max(level, max(peak * decay, floor))
            peaks.append(peak)
            x = level / peak
            out.append(0.0 if x < 0.0 else 1.0 if x > 1.0 else x)
        self._peak = peaks
        return out


class PulseShaper(FrameStage):
    """Turns onset strengths (n_frames, n_channels; 0 = none) into pulses: jump to ``level`` then decay.

    ``level`` is min(1, strength / full_scale_strength) with a floor of ``min_level`` so weak onsets are felt.
    """

    def __init__(
        self,
        n_channels: int,
        frame_rate_hz: float,
        decay_s: float = 0.06,
        full_scale_strength: float = 0.3,
        min_level: float = 0.5,
    ) -> None:
        self.n_channels = n_channels
        self.decay = float(np.exp(-1.0 / (decay_s * frame_rate_hz)))
        self.full_scale_strength = full_scale_strength
        self.min_level = min_level
        self.reset()

    def reset(self) -> None:
        self._level = [0.0] * self.n_channels

    def _step(self, strengths: list[float]) -> list[float]:
        decay, full_scale, min_level = self.decay, self.full_scale_strength, self.min_level
        levels = []
        for strength, level in zip(strengths, self._level):
            level *= decay
            if strength > 0.0:  # jump to max(level * decay, min(max(strength / full_scale, min_level), 1.0))
                jump = strength / full_scale
                jump = min_level if min_level > jump else jump
                jump = 1.0 if 1.0 < jump else jump
                level = jump if jump > level else level
            levels.append(level)
        self._level = levels
        return levels


class ErmKick(FrameStage):
    """Overdrive and braking for eccentric-rotating-mass motors.

    An ERM's speed follows its drive like a one-pole low-pass with time constant ``spinup_s`` (n_channels,).
    This stage inverts that model: the drive that makes the speed reach the target in one frame, clipped to
    [0, 1]. A rising target gives a full-drive kick (overdrive), a falling one a zero-drive gap (braking by
    coasting with the drive off); a steady target passes through unchanged. Channels with ``spinup_s`` 0 (LRAs,
    voice coils) pass through.
    """

    def __init__(self, spinup_s: np.ndarray, frame_rate_hz: float) -> None:
        self.spinup_s = np.asarray(spinup_s, dtype=np.float64)
        self.alpha = np.array([one_pole_coefficient(tau, frame_rate_hz) for tau in self.spinup_s])
        self._alphas = self.alpha.tolist()
        self.n_channels = self.spinup_s.shape[0]
        self.reset()

    def reset(self) -> None:
        self._speed = [0.0] * self.n_channels

    def _step(self, targets: list[float]) -> list[float]:
        drives = [
            0.0 if (x := speed + (target - speed) / alpha) < 0.0 else 1.0 if x > 1.0 else x
            for target, speed, alpha in zip(targets, self._speed, self._alphas)
        ]
        self._speed = [
            speed + alpha * (drive - speed) for drive, speed, alpha in zip(drives, self._speed, self._alphas)
        ]
        return drives


def apply_limits(
    intensity: np.ndarray, min_drive: np.ndarray, max_drive: np.ndarray, off_below: float = OFF_BELOW
) -> np.ndarray:
    """Per-actuator limits: [off_below, 1] maps onto [min_drive, max_drive] (the motor's start-up dead zone is
    skipped); anything below ``off_below`` is 0, so a decaying envelope ends with the motor really off."""
    scaled = min_drive + clip01(intensity) * (max_drive - min_drive)
    return np.where(intensity >= off_below, scaled, 0.0)


def cap_total_power(intensity: np.ndarray, power_weights: np.ndarray, max_total_power: float) -> np.ndarray:
    """Scale every frame down uniformly where sum(power_weights * intensity) exceeds ``max_total_power``."""
    total = intensity @ power_weights
    if not (total > max_total_power).any():
        return intensity  # within the cap (the usual case): unchanged
    scale = np.where(total > max_total_power, max_total_power / np.maximum(total, 1e-12), 1.0)
    return intensity * scale[:, None]


class ActuatorLimits(FrameStage):
    """:func:`apply_limits` then :func:`cap_total_power` and a final clip to [0, 1], frame by frame (the renderer's
    last stage; the same arithmetic on plain floats)."""

    def __init__(
        self,
        min_drive: np.ndarray,
        max_drive: np.ndarray,
        power_weights: np.ndarray,
        max_total_power: float,
        off_below: float = OFF_BELOW,
    ) -> None:
        self.n_channels = len(min_drive)
        self._lows = np.asarray(min_drive, dtype=np.float64).tolist()
        self._spans = (np.asarray(max_drive, dtype=np.float64) - min_drive).tolist()
        self._power = np.asarray(power_weights, dtype=np.float64).tolist()
        self.max_total_power = max_total_power
        self.off_below = off_below

    def _step(self, intensities: list[float]) -> list[float]:
        off_below = self.off_below
        limited = [
            low + (0.0 if x < 0.0 else 1.0 if x > 1.0 else x) * span if x >= off_below else 0.0
            for x, low, span in zip(intensities, self._lows, self._spans)
        ]
        total = sum([weight * x for weight, x in zip(self._power, limited)])
        if total > self.max_total_power:
            scale = self.max_total_power / max(total, 1e-12)
            limited = [x * scale for x in limited]
        return [0.0 if x < 0.0 else 1.0 if x > 1.0 else x for x in limited]


class NormalisedEnvelope(FrameStage):
    """:class:`PeakNormaliser`, :class:`CompressedAmplitude` then :class:`AttackRelease` in one pass over the
    channels: band power -> the level an energy route plays.

    The same arithmetic as the three chained (a test holds it to their ``FrameChain`` exactly), in one loop per frame
    instead of three stages' calls and comprehensions (docs/hot_path.md)."""

    def __init__(self, normaliser: PeakNormaliser, amplitude: CompressedAmplitude, smoother: AttackRelease) -> None:
        if not normaliser.n_channels == amplitude.n_channels == smoother.n_channels:
            raise ValueError("the normaliser, the amplitude and the smoother need the same number of channels")
        self.normaliser = normaliser
        self.amplitude = amplitude
        self.smoother = smoother
        self.n_channels = smoother.n_channels

    def reset(self) -> None:
        self.normaliser.reset()
        self.smoother.reset()

    def _step(self, powers: list[float]) -> list[float]:
        normaliser, amplitude, smoother = self.normaliser, self.amplitude, self.smoother
        decay, floor = normaliser.decay, normaliser.floor
        threshold, exponent, span = amplitude.threshold, amplitude.exponent, 1.0 - amplitude.threshold
        attack, release = smoother.attack, smoother.release
        sqrt = math.sqrt
        peaks, states = [], []
        for power, peak, state in zip(powers, normaliser._peak, smoother._state):
            peak *= decay
            peak = floor if floor > peak else peak
            peak = peak if peak > power else power  # PeakNormaliser
            peaks.append(peak)
            x = power / peak
            x = (sqrt(0.0 if x < 0.0 else 1.0 if x > 1.0 else x) - threshold) / span  # CompressedAmplitude
            x = (0.0 if x < 0.0 else 1.0 if x > 1.0 else x) ** exponent
            states.append(state + (attack if x > state else release) * (x - state))  # AttackRelease
        normaliser._peak = peaks
        smoother._state = states
        return states


class KickedLimits(FrameStage):
    """:class:`ErmKick` then :class:`ActuatorLimits` in one pass over the channels: the renderer's output stage.

    The same arithmetic as the two stages chained (a test holds it to ``FrameChain([ErmKick, ActuatorLimits])``
    exactly), in one loop per frame instead of five list comprehensions: on 16 actuators that halves the cost of the
    device's one-hop call (docs/hot_path.md)."""

    def __init__(self, kick: ErmKick, limits: ActuatorLimits) -> None:
        if kick.n_channels != limits.n_channels:
            raise ValueError(f"kick has {kick.n_channels} channels, limits {limits.n_channels}")
        self.kick = kick
        self.limits = limits
        self.n_channels = limits.n_channels

    def reset(self) -> None:
        self.kick.reset()

    def _step(self, targets: list[float]) -> list[float]:
        kick, limits = self.kick, self.limits
        off_below = limits.off_below
        speeds, limited, products, clipped = [], [], [], []
        for target, speed, alpha, low, span, weight in zip(
            targets, kick._speed, kick._alphas, limits._lows, limits._spans, limits._power
        ):
            drive = speed + (target - speed) / alpha
            drive = 0.0 if drive < 0.0 else 1.0 if drive > 1.0 else drive  # ErmKick
            speeds.append(speed + alpha * (drive - speed))
            x = low + drive * span if drive >= off_below else 0.0  # ActuatorLimits (the drive is within [0, 1])
            limited.append(x)
            products.append(weight * x)
            clipped.append(0.0 if x < 0.0 else 1.0 if x > 1.0 else x)
        kick._speed = speeds
        total = sum(products)
        if not total > limits.max_total_power:  # within the cap (the usual case)
            return clipped
        scale = limits.max_total_power / max(total, 1e-12)
        return [0.0 if (y := x * scale) < 0.0 else 1.0 if y > 1.0 else y for x in limited]


def phantom_pan(position: np.ndarray, intensity: np.ndarray, n_actuators: int) -> np.ndarray:
    """Phantom sensation between neighbouring actuators of a line (energy model).

    ``position`` (n_frames,) in [0, 1] along a line of ``n_actuators`` evenly spaced actuators; ``intensity``
    (n_frames,). Returns (n_frames, n_actuators): the two actuators around the position share the intensity
    with amplitudes sqrt(1 - beta) and sqrt(beta), so the felt total energy stays constant as it moves.
    """
    out = np.zeros((position.shape[0], n_actuators))
    if n_actuators == 1:
        out[:, 0] = intensity
        return out
    scaled = clip01(position) * (n_actuators - 1)
    lower = np.minimum(np.floor(scaled).astype(int), n_actuators - 2)
    beta = scaled - lower
    rows = np.arange(position.shape[0])
    out[rows, lower] = np.sqrt(1.0 - beta) * intensity
    out[rows, lower + 1] = np.sqrt(beta) * intensity
    return out
