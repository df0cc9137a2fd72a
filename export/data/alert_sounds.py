"""Alert sounds in several *families* per class (a family is a way of making that sound, i.e. a source), with the
exact times each sounds, so the tagger can be taught alerts from ground truth where its teacher (YAMNet) does
not recognise our synthetic sounds.

Family 'a' of each class is the generator of :mod:`export.data.sound_events`; 'b' and 'c' are other designs of
the same kind of device (a hi-lo siren, a smoke alarm's T3 pattern, a buzzer doorbell, a UK double ring ...);
'd' and 'e' are broad random designs (any sweep shape and waveform, beepers with random patterns, struck electric
bells, trill ringers, knocks on random modal surfaces, muffled knocks) so that no one way of sounding is rare.
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


# Training families 'd' and 'e': broad random designs, so that no one way of making a class is rare. None of them
# is a stepped two-tone siren, a buzzer or a 400/450 Hz double ring (the held-out family 'b' designs).


def _waveform(rng: np.random.Generator, t: np.ndarray, frequency_hz: float | np.ndarray) -> np.ndarray:
    """A random mix of sine, odd harmonics (square-ish) and all harmonics (saw-ish), unit-ish peak."""
    odd = tuple((1.0 / k, float(k)) for k in (3, 5, 7))
    every = tuple((1.0 / k, float(k)) for k in (2, 3, 4, 5))
    kind = int(rng.integers(3))
    partials = ((1.0, 1.0),) + (() if kind == 0 else odd if kind == 1 else every)
    tone = _tone(t, frequency_hz, partials)
    drive = float(rng.uniform(0.5, 4.0))
    return np.tanh(drive * tone) / np.tanh(drive)


def _bell_strike(t: np.ndarray, start_s: float, f_hz: float, decay_s: float, rng: np.random.Generator) -> np.ndarray:
    """One struck metal bell at ``start_s``: inharmonic partials with a random spread, decaying."""
    local = np.clip(t - start_s, 0, None)
    ratios = (1.0, float(rng.uniform(2.0, 2.9)), float(rng.uniform(3.9, 5.6)), float(rng.uniform(6.0, 8.5)))
    amplitudes = (1.0, float(rng.uniform(0.3, 0.8)), float(rng.uniform(0.1, 0.5)), float(rng.uniform(0.05, 0.3)))
    out = sum(
        a * np.exp(-local / (decay_s / r**0.5)) * np.sin(2 * np.pi * f_hz * r * local)
        for a, r in zip(amplitudes, ratios)
    )
    return (t >= start_s) * out


def _struck_bell(rng: np.random.Generator, t: np.ndarray, gate: np.ndarray, strikes_hz: float) -> np.ndarray:
    """An electric bell: a hammer strikes a gong ``strikes_hz`` times a second while ``gate`` is on."""
    out = np.zeros_like(t)
    f_hz = float(rng.uniform(600, 2500))
    decay_s = float(rng.uniform(0.05, 0.4))
    for start_s in np.arange(0.0, t[-1] if len(t) else 0.0, 1.0 / strikes_hz):
        index = int(start_s * SAMPLE_RATE_HZ)
        if index < len(gate) and gate[index]:
            out += _bell_strike(t, float(start_s), f_hz, decay_s, rng) * float(rng.uniform(0.7, 1.0))
    return out


def siren_swept(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Electronic siren: a random waveform swept by a random LFO shape (sine, triangle, rising or falling ramp) at
    0.1-6 Hz over a random range in 300-2000 Hz."""
    t = _time(seconds)
    rate_hz = float(np.exp(rng.uniform(np.log(0.1), np.log(6.0))))
    phase = (t * rate_hz + rng.random()) % 1.0
    shape = int(rng.integers(4))
    sweep = [0.5 * (1 - np.cos(2 * np.pi * phase)), 1 - np.abs(2 * phase - 1), phase, 1 - phase][shape]
    low = float(rng.uniform(300, 900))
    high = low * float(rng.uniform(1.4, 2.5))
    return _waveform(rng, t, low + (high - low) * sweep) * 0.3


def siren_mechanical(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Motor siren: a harmonic-rich tone that winds up and down slowly (2-8 s), with rotor noise."""
    t = _time(seconds)
    period_s = float(rng.uniform(2.0, 8.0))
    wind = np.sin(np.pi * ((t / period_s + rng.random()) % 1.0)) ** 2
    frequency = float(rng.uniform(250, 500)) + float(rng.uniform(300, 900)) * wind
    tone = _tone(t, frequency, ((1, 1), (0.6, 2), (0.4, 3), (0.25, 4), (0.15, 5)))
    noise = np.diff(rng.standard_normal(len(t) + 1)) * float(rng.uniform(0.02, 0.15))
    return (tone * 0.25 + noise) * (0.4 + 0.6 * wind)


def beeper(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Electronic beeper: a random tone (800-4500 Hz, random waveform) in groups of 1-5 beeps of 0.05-0.6 s with
    random gaps, groups repeating after a random pause."""
    t = _time(seconds)
    on_s, off_s = float(rng.uniform(0.05, 0.6)), float(rng.uniform(0.05, 0.5))
    n_beeps, pause_s = int(rng.integers(1, 6)), float(rng.uniform(0.0, 1.5))
    period_s = n_beeps * (on_s + off_s) + pause_s
    local = (t + rng.uniform(0, 0.1)) % period_s
    gate = ((local < n_beeps * (on_s + off_s)) & ((local % (on_s + off_s)) < on_s)).astype(float)
    return _waveform(rng, t, float(rng.uniform(800, 4500))) * gate * 0.3


def fire_bell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Fire/alarm bell: a gong struck 12-25 times a second without pause."""
    t = _time(seconds)
    return _struck_bell(rng, t, np.ones_like(t, dtype=bool), float(rng.uniform(12, 25))) * 0.15


def electronic_dingdong(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Electronic doorbell: 2-3 synthetic tones (random waveform, 400-1500 Hz, a third to a sixth apart) each
    decaying, pressed once or twice."""
    t = _time(seconds)
    out = np.zeros_like(t)
    start_s = float(rng.uniform(0.02, 0.2))
    ratios = rng.choice([1.19, 1.26, 1.335, 1.5, 1.68], int(rng.integers(1, 3)))
    first = float(rng.uniform(600, 1500))
    for _ in range(int(rng.integers(1, 3))):
        for index, f_hz in enumerate([first, *(first / np.cumprod(ratios))]):
            begin = start_s + index * float(rng.uniform(0.3, 0.7))
            local = np.clip(t - begin, 0, None)
            out += (t >= begin) * np.exp(-local / float(rng.uniform(0.2, 0.8))) * _waveform(rng, local, float(f_hz))
        start_s += float(rng.uniform(1.2, 2.0))
    return out * 0.25


def electric_doorbell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Electric door bell ("rrring"): a gong struck 15-30 times a second while the button is held (0.4-2 s),
    once or twice."""
    t = _time(seconds)
    gate = np.zeros_like(t, dtype=bool)
    start_s = float(rng.uniform(0.02, 0.2))
    for _ in range(int(rng.integers(1, 3))):
        length_s = float(rng.uniform(0.4, 2.0))
        gate |= (t >= start_s) & (t < start_s + length_s)
        start_s += length_s + float(rng.uniform(0.3, 1.0))
    return _struck_bell(rng, t, gate, float(rng.uniform(15, 30))) * 0.15


def bell_telephone(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Old telephone: two small bells struck alternately ~20 times a second, ringing 1-2 s then 2-4 s silent."""
    t = _time(seconds)
    on_s, off_s = float(rng.uniform(1.0, 2.0)), float(rng.uniform(2.0, 4.0))
    gate = ((t + rng.uniform(0, 0.1)) % (on_s + off_s)) < on_s
    return _struck_bell(rng, t, gate, float(rng.uniform(18, 26))) * 0.15


def trill_telephone(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Electronic trill ringer: two tones (600-2000 Hz) alternating 10-25 times a second, in bursts of 0.5-2 s."""
    t = _time(seconds)
    low = float(rng.uniform(600, 1400))
    high = low * float(rng.uniform(1.1, 1.6))
    alternate = (np.sin(2 * np.pi * rng.uniform(10, 25) * t) > 0).astype(float)
    tone = _waveform(rng, t, low + (high - low) * alternate)
    on_s, off_s = float(rng.uniform(0.5, 2.0)), float(rng.uniform(1.0, 3.0))
    gate = ((t + rng.uniform(0, 0.1)) % (on_s + off_s)) < on_s
    return tone * gate * 0.3


def modal_knock(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Knocks on a random surface: each knock a click plus 2-4 decaying modes in 80-1500 Hz; groups of 2-6 knocks
    0.1-0.35 s apart, then a pause."""
    t = _time(seconds)
    out = np.zeros_like(t)
    modes = np.exp(rng.uniform(np.log(80), np.log(1500), int(rng.integers(2, 5))))
    decays = rng.uniform(0.005, 0.05, len(modes))
    start_s = float(rng.uniform(0.02, 0.3))
    while start_s < seconds - 0.3:
        for _ in range(int(rng.integers(2, 7))):
            local = np.clip(t - start_s, 0, None)
            on = t >= start_s
            strength = float(rng.uniform(0.6, 1.0))
            for mode_hz, decay_s in zip(modes, decays):
                out += on * strength * np.exp(-local / decay_s) * np.sin(2 * np.pi * mode_hz * local)
            out += on * strength * 0.3 * np.exp(-local / 0.002) * rng.standard_normal(len(t))
            start_s += float(rng.uniform(0.1, 0.35))
        start_s += float(rng.uniform(0.7, 2.0))
    return out * 0.3


def muffled_knock(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Knocks heard through a door: low-passed thumps (noise burst into a 60-250 Hz resonance), 2-5 per group."""
    from scipy import signal

    t = _time(seconds)
    impulses = np.zeros_like(t)
    start_s = float(rng.uniform(0.02, 0.3))
    while start_s < seconds - 0.3:
        for _ in range(int(rng.integers(2, 6))):
            impulses[min(int(start_s * SAMPLE_RATE_HZ), len(t) - 1)] = float(rng.uniform(0.6, 1.0))
            start_s += float(rng.uniform(0.12, 0.4))
        start_s += float(rng.uniform(0.8, 2.0))
    burst = rng.standard_normal(int(0.01 * SAMPLE_RATE_HZ)) * np.exp(-np.arange(int(0.01 * SAMPLE_RATE_HZ)) / 40)
    b, a = signal.iirpeak(float(rng.uniform(60, 250)), float(rng.uniform(2, 8)), fs=SAMPLE_RATE_HZ)
    thumps = signal.lfilter(b, a, signal.fftconvolve(impulses, burst)[: len(t)])
    b, a = signal.butter(2, float(rng.uniform(300, 1200)), fs=SAMPLE_RATE_HZ)
    return signal.lfilter(b, a, thumps) * 2.0


ALERT_FAMILIES: dict[str, dict[str, Callable[[np.random.Generator, float], np.ndarray]]] = {
    "siren": {"a": siren, "b": siren_hi_lo, "c": siren_whoop, "d": siren_swept, "e": siren_mechanical},
    "alarm": {"a": beeping_alarm, "b": smoke_alarm_t3, "c": digital_clock_alarm, "d": beeper, "e": fire_bell},
    "doorbell": {
        "a": doorbell,
        "b": buzzer_doorbell,
        "c": chime_doorbell,
        "d": electronic_dingdong,
        "e": electric_doorbell,
    },
    "telephone": {
        "a": phone_ring,
        "b": uk_double_ring,
        "c": ringtone_melody,
        "d": bell_telephone,
        "e": trill_telephone,
    },
    "knock": {"a": knocking, "b": rapping_knock, "c": tapping_knock, "d": modal_knock, "e": muffled_knock},
}
ALERT_FAMILY_NAMES = ("a", "b", "c", "d", "e")


def check_training_alert_family(family: str) -> str:
    if family in HELDOUT_ALERT_FAMILIES:
        raise ConfigError(
            f"alert family {family!r} is held out for out-of-source evaluation "
            f"(export.data.alert_sounds.HELDOUT_ALERT_FAMILIES); training may not use it"
        )
    return family


def training_families() -> tuple[str, ...]:
    return tuple(f for f in ALERT_FAMILY_NAMES if f not in HELDOUT_ALERT_FAMILIES)


def synthesize_alert(kind: str, family: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    """(n_samples,) float32 of one alert of ``kind`` made by ``family``."""
    if kind not in ALERT_FAMILIES or family not in ALERT_FAMILIES[kind]:
        raise ConfigError(
            f"alert {kind!r} family {family!r} unknown; kinds {list(ALERT_FAMILIES)}, families {ALERT_FAMILY_NAMES}"
        )
    return np.asarray(ALERT_FAMILIES[kind][family](rng, seconds), dtype=np.float32)


def sounding_frames(event: np.ndarray, hop: int) -> np.ndarray:
    """(n_frames,) bool per hop of ``event`` alone: is it sounding (envelope above ACTIVE_FRACTION_OF_PEAK)?"""
    n_frames = len(event) // hop
    envelope = np.abs(event[: n_frames * hop]).reshape(n_frames, hop).max(axis=1)
    return envelope > ACTIVE_FRACTION_OF_PEAK * max(float(envelope.max(initial=0.0)), 1e-9)
