"""Priority patterns for alerts: distinct, recognisable rhythms that interrupt music.

Each pattern is a pure function of the time since the alert became active, ``elapsed_s`` (n_frames,), and the
number of actuators in its group; it returns (n_frames, n_actuators) intensities in [0, 1].
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edge.haptics.stages import phantom_pan

ALARM_RATE_HZ = 4.0  # fast on/off, 50 % duty
SIREN_TURNS_PER_S = 1.0  # a bump circling the group
DOORBELL_PERIOD_S = 1.5  # "ding" then "dong", then a pause
DOORBELL_PULSE_S = 0.2
KNOCK_PERIOD_S = 1.2  # three short knocks, then a pause
KNOCK_SPACING_S = 0.15
KNOCK_PULSE_S = 0.06
CRY_RATE_HZ = 2.0  # slow swell
PULSE_PERIOD_S = 0.5


def _same_on_all(level: np.ndarray, n_actuators: int) -> np.ndarray:
    return np.repeat(level[:, None], n_actuators, axis=1)


def alarm(elapsed_s: np.ndarray, n_actuators: int) -> np.ndarray:
    on = np.mod(elapsed_s * ALARM_RATE_HZ, 1.0) < 0.5
    return _same_on_all(on.astype(np.float64), n_actuators)


def siren(elapsed_s: np.ndarray, n_actuators: int) -> np.ndarray:
    phase = np.mod(elapsed_s * SIREN_TURNS_PER_S, 1.0)
    there_and_back = 1.0 - np.abs(2.0 * phase - 1.0)
    return phantom_pan(there_and_back, np.ones_like(elapsed_s), n_actuators)


def doorbell(elapsed_s: np.ndarray, n_actuators: int) -> np.ndarray:
    t = np.mod(elapsed_s, DOORBELL_PERIOD_S)
    ding = t < DOORBELL_PULSE_S
    dong = (t >= 2 * DOORBELL_PULSE_S) & (t < 3 * DOORBELL_PULSE_S)
    half = n_actuators // 2 if n_actuators > 1 else n_actuators
    out = np.zeros((elapsed_s.shape[0], n_actuators))
    out[:, :half] = ding[:, None] * 1.0
    out[:, half:] = np.maximum(out[:, half:], dong[:, None] * 0.8)
    if n_actuators == 1:
        out[:, 0] = np.where(dong, 0.8, out[:, 0])
    return out


def knock(elapsed_s: np.ndarray, n_actuators: int) -> np.ndarray:
    t = np.mod(elapsed_s, KNOCK_PERIOD_S)
    on = np.zeros_like(t, dtype=bool)
    for index in range(3):
        start = index * KNOCK_SPACING_S
        on |= (t >= start) & (t < start + KNOCK_PULSE_S)
    return _same_on_all(on.astype(np.float64), n_actuators)


def baby_cry(elapsed_s: np.ndarray, n_actuators: int) -> np.ndarray:
    swell = 0.3 + 0.7 * 0.5 * (1.0 - np.cos(2.0 * np.pi * CRY_RATE_HZ * elapsed_s))
    return _same_on_all(swell, n_actuators)


def pulse(elapsed_s: np.ndarray, n_actuators: int) -> np.ndarray:
    on = np.mod(elapsed_s, PULSE_PERIOD_S) < PULSE_PERIOD_S / 4
    return _same_on_all(on.astype(np.float64), n_actuators)


PATTERN_FUNCTIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "alarm": alarm,
    "siren": siren,
    "doorbell": doorbell,
    "knock": knock,
    "baby-cry": baby_cry,
    "pulse": pulse,
}
