"""Alert sounds in several *families* per class (a family is a way of making that sound, i.e. a source), with the
exact times each sounds, so the tagger can be taught alerts from ground truth where its teacher (YAMNet) does
not recognise our synthetic sounds.

Family 'a' of each class is the generator of :mod:`export.data.sound_events`; 'b' and 'c' are other designs of
the same kind of device (a hi-lo siren, a smoke alarm's T3 pattern, a buzzer doorbell, a UK double ring ...).
Family 'b' of every class is held out (:data:`HELDOUT_ALERT_FAMILIES`): the out-of-source alert evaluation uses
only it, and training refuses it (:func:`check_training_alert_family`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edge.errors import ConfigError
from export.data.sound_events import SAMPLE_RATE_HZ, beeping_alarm, doorbell, knocking, phone_ring, siren

ALERT_CLASSES = ("siren", "alarm", "doorbell", "telephone", "knock")
"""Alert event kinds; each is also the tagger label that should fire for it."""
HELDOUT_ALERT_FAMILIES = frozenset({"b"})
ACTIVE_FRACTION_OF_PEAK = 0.05
"""A 16 ms frame counts as sounding when the event's envelope there is above this fraction of its peak."""


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ


def _tone(
    t: np.ndarray, frequency_hz: float | np.ndarray, partials: tuple[tuple[float, float], ...] = ((1.0, 1.0),)
) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(frequency_hz, t.shape)) / SAMPLE_RATE_HZ
    return sum(amplitude * np.sin(ratio * phase) for amplitude, ratio in partials)  # type: ignore[return-value]


def siren_hi_lo(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """European two-tone siren: two pitches a fourth apart alternating every 0.4-0.8 s, square-ish."""
    t = _time(seconds)
    low = rng.uniform(400, 700)
    period_s = rng.uniform(0.8, 1.6)
    frequency = np.where((t % period_s) < period_s / 2, low * rng.choice([1.335, 1.26, 1.5]), low)
    return np.tanh(3 * _tone(t, frequency, ((1, 1), (0.3, 3), (0.15, 5)))) * 0.3


def siren_whoop(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Whooper: a fast rising sweep repeated, sawtooth-like."""
    t = _time(seconds)
    period_s = rng.uniform(0.5, 1.2)
    frequency = rng.uniform(300, 500) + rng.uniform(600, 1200) * (t % period_s) / period_s
    return _tone(t, frequency, ((1, 1), (0.5, 2), (0.33, 3), (0.25, 4))) * 0.25


def smoke_alarm_t3(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Smoke alarm T3 pattern: three 0.5 s piezo beeps (~3.1 kHz with a harmonic), then 1.5 s of silence."""
    t = _time(seconds)
    local = t % 4.0
    gate = ((local < 2.5) & ((local % 1.0) < 0.5)).astype(float)
    return _tone(t, rng.uniform(2900, 3400), ((1, 1), (0.3, 2))) * gate * 0.3


def digital_clock_alarm(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Alarm clock: pairs of short sine beeps at 1-2.5 kHz, repeating."""
    t = _time(seconds)
    period_s = rng.uniform(0.6, 1.0)
    local = t % period_s
    gate = ((local < 0.08) | ((local > 0.14) & (local < 0.22))).astype(float)
    return _tone(t, rng.uniform(1000, 2500)) * gate * 0.35


def buzzer_doorbell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Buzzer doorbell: a harsh 50-200 Hz buzz with rattle, pressed for 0.5-1.5 s, once or twice."""
    t = _time(seconds)
    gate = np.zeros_like(t)
    start_s = rng.uniform(0.05, 0.3)
    for _ in range(int(rng.integers(1, 3))):
        length_s = rng.uniform(0.5, 1.5)
        gate[(t >= start_s) & (t < start_s + length_s)] = 1.0
        start_s += length_s + rng.uniform(0.3, 0.8)
    buzz = np.sign(np.sin(2 * np.pi * rng.uniform(50, 200) * t))
    rattle = np.diff(rng.standard_normal(len(t) + 1)) * 0.2
    return (buzz + rattle) * gate * 0.25


def chime_doorbell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Chime doorbell: a 3-4 note descending melody of decaying tubular-bell tones."""
    t = _time(seconds)
    out = np.zeros_like(t)
    root = rng.uniform(500, 900)
    for index, ratio in enumerate((1.5, 1.26, 1.335, 1.0)[: int(rng.integers(3, 5))]):
        start_s = 0.05 + index * rng.uniform(0.35, 0.55)
        local = np.clip(t - start_s, 0, None)
        out += (t >= start_s) * np.exp(-local / 0.9) * _tone(local, root * ratio, ((1, 1), (0.5, 2.0), (0.25, 3.0)))
    return out * 0.25


def uk_double_ring(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """UK telephone: 400 + 450 Hz, ring (0.4 s) pause (0.2 s) ring (0.4 s), then 2 s of silence."""
    t = _time(seconds)
    local = t % 3.0
    gate = ((local < 0.4) | ((local > 0.6) & (local < 1.0))).astype(float)
    return (_tone(t, 400.0 * rng.uniform(0.97, 1.03)) + _tone(t, 450.0 * rng.uniform(0.97, 1.03))) * gate * 0.25


def ringtone_melody(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A mobile ringtone: a short marimba-like arpeggio of 6-8 notes, repeated."""
    t = _time(seconds)
    out = np.zeros_like(t)
    root = rng.uniform(500, 1000)
    notes = rng.choice([1.0, 1.26, 1.5, 2.0, 1.335, 1.68], int(rng.integers(6, 9)))
    step_s = rng.uniform(0.1, 0.18)
    start_s = 0.05
    while start_s < seconds:
        for ratio in notes:
            local = np.clip(t - start_s, 0, None)
            out += (t >= start_s) * np.exp(-local / 0.12) * _tone(local, root * ratio, ((1, 1), (0.3, 4.0)))
            start_s += step_s
        start_s += rng.uniform(0.5, 1.0)
    return out * 0.2


def rapping_knock(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Quick raps on a hollow door: 4-7 knocks 80-140 ms apart, each a click plus two wood modes."""
    t = _time(seconds)
    out = np.zeros_like(t)
    start_s = rng.uniform(0.05, 0.3)
    modes = (rng.uniform(90, 180), rng.uniform(350, 700))
    while start_s < seconds - 0.8:
        for _ in range(int(rng.integers(4, 8))):
            local = np.clip(t - start_s, 0, None)
            on = t >= start_s
            out += on * np.exp(-local / 0.03) * np.sin(2 * np.pi * modes[0] * local)
            out += on * 0.5 * np.exp(-local / 0.01) * np.sin(2 * np.pi * modes[1] * local)
            out += on * 0.3 * np.exp(-local / 0.002) * rng.standard_normal(len(t))
            start_s += rng.uniform(0.08, 0.14)
        start_s += rng.uniform(1.0, 2.0)
    return out * 0.5


def tapping_knock(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Knuckle taps on a harder surface: 2-3 bright taps (800-2000 Hz modes, very short) per group."""
    t = _time(seconds)
    out = np.zeros_like(t)
    start_s = rng.uniform(0.05, 0.3)
    mode = rng.uniform(800, 2000)
    while start_s < seconds - 0.5:
        for _ in range(int(rng.integers(2, 4))):
            local = np.clip(t - start_s, 0, None)
            out += (t >= start_s) * np.exp(-local / 0.012) * np.sin(2 * np.pi * mode * local)
            start_s += rng.uniform(0.15, 0.3)
        start_s += rng.uniform(0.8, 1.6)
    return out * 0.6


ALERT_FAMILIES: dict[str, dict[str, Callable[[np.random.Generator, float], np.ndarray]]] = {
    "siren": {"a": siren, "b": siren_hi_lo, "c": siren_whoop},
    "alarm": {"a": beeping_alarm, "b": smoke_alarm_t3, "c": digital_clock_alarm},
    "doorbell": {"a": doorbell, "b": buzzer_doorbell, "c": chime_doorbell},
    "telephone": {"a": phone_ring, "b": uk_double_ring, "c": ringtone_melody},
    "knock": {"a": knocking, "b": rapping_knock, "c": tapping_knock},
}


def check_training_alert_family(family: str) -> str:
    if family in HELDOUT_ALERT_FAMILIES:
        raise ConfigError(
            f"alert family {family!r} is held out for out-of-source evaluation "
            f"(export.data.alert_sounds.HELDOUT_ALERT_FAMILIES); training may not use it"
        )
    return family


def training_families() -> tuple[str, ...]:
    return tuple(f for f in ("a", "b", "c") if f not in HELDOUT_ALERT_FAMILIES)


def synthesize_alert(kind: str, family: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    """(n_samples,) float32 of one alert of ``kind`` made by ``family``."""
    if kind not in ALERT_FAMILIES or family not in ALERT_FAMILIES[kind]:
        raise ConfigError(f"alert {kind!r} family {family!r} unknown; kinds {list(ALERT_FAMILIES)}, families a/b/c")
    return np.asarray(ALERT_FAMILIES[kind][family](rng, seconds), dtype=np.float32)


def sounding_frames(event: np.ndarray, hop: int) -> np.ndarray:
    """(n_frames,) bool per hop of ``event`` alone: is it sounding (envelope above ACTIVE_FRACTION_OF_PEAK)?"""
    n_frames = len(event) // hop
    envelope = np.abs(event[: n_frames * hop]).reshape(n_frames, hop).max(axis=1)
    return envelope > ACTIVE_FRACTION_OF_PEAK * max(float(envelope.max(initial=0.0)), 1e-9)
