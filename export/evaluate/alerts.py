"""Do alerts fire? Per alert class: recall within 1 s by the renderer's tag decision, and false alarms per hour
of music, for a pack's tagger on held-out material.

Material: synthetic alerts of each class from held-out random streams no training recipe can draw, made by the
held-out alert family (out-of-source: ``export.data.alert_sounds.HELDOUT_ALERT_FAMILIES``) and, beside it, by a
training family (in-source), placed ALERT_ONSET_S into a clip, alone, over out-of-source music (RMS ratio
EVENT_OVER_MUSIC_GAIN) and over held-out speech. The tagger's probabilities go through the renderer's own tag
decision (:class:`edge.haptics.features.TagHysteresis` with the default rig's smoothing, on/off thresholds and
minimum hold), so the numbers are what a user feels: an event is recalled when its label turns on within
ALERT_WINDOW_S of the event's start; a false alarm is each time an alert label turns on over music with no
event (the out-of-source and in-source songs), counted per hour of that music.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ConfigError
from edge.haptics.features import HysteresisParams, TagHysteresis
from edge.haptics.spec import RenderParams
from edge.stream import DEVICE_STREAM
from export.data.alert_sounds import ALERT_CLASSES, synthesize_alert
from export.evaluate.heldout import EVENT_OVER_MUSIC_GAIN, EVENT_SECONDS, HELDOUT_SEED_START, Piece, over_song
from export.evaluate.tagging import PackTagger

ALERT_WINDOW_S = 1.0
ALERT_ONSET_S = 0.5
"""The event starts this far into its clip (quiet or the background before it)."""
ALERT_EVENT_STREAM = 3
"""Held-out alerts come from ``np.random.default_rng([HELDOUT_SEED_START, ALERT_EVENT_STREAM, class, family, i])``."""
NOT_MEASURABLE = ("baby_cry", "dog")
"""Alert labels with no offline material to synthesise or record them from (reported as not measured)."""
_RENDER = RenderParams()
RENDER_DECISION = HysteresisParams(_RENDER.tag_smoothing_s, _RENDER.tag_on, _RENDER.tag_off, _RENDER.tag_min_hold_s)
"""The default rig's tag decision (what switches an alert preset on)."""


def heldout_alerts(family: str, n_per_class: int) -> list[Piece]:
    """``n_per_class`` alerts of every class made by ``family``, EVENT_SECONDS long, named 'alert-<class>-<i>'."""
    return [
        Piece(
            f"alert-{kind}-{index}",
            synthesize_alert(
                kind,
                family,
                np.random.default_rng([HELDOUT_SEED_START, ALERT_EVENT_STREAM, k, ord(family), index]),
                EVENT_SECONDS,
            ),
            {},
        )
        for k, kind in enumerate(ALERT_CLASSES)
        for index in range(n_per_class)
    ]


THEME_ALERTS: dict[str, tuple[Path, ...]] = {
    "alarm": (Path("/usr/share/sounds/freedesktop/stereo/alarm-clock-elapsed.oga"),),  # sound-theme-freedesktop
    "telephone": (
        Path("/usr/share/sounds/freedesktop/stereo/phone-incoming-call.oga"),  # sound-theme-freedesktop
        Path("/usr/share/sounds/Oxygen-Im-Phone-Ring.ogg"),  # oxygen-sounds
    ),
}
"""Real alert sound designs from desktop sound themes (Debian packages in the comments). Evaluation only: no
recipe may train or tune on them (they are not among the training sources of ../shared/DESIGN.md)."""
THEME_ALERT_STREAM = 4
THEME_MATERIAL = "out-of-source, real designs from desktop sound themes"


def theme_alerts(n_per_class: int) -> list[Piece]:
    """``n_per_class`` alerts of each class in THEME_ALERTS: its files in turn, looped as a desktop plays them, each
    from a random point of the loop at a random level (-12..0 dB), EVENT_SECONDS long, named 'alert-<class>-<i>'."""
    from export.data.sources import read_mono_16k

    pieces = []
    n_samples = int(EVENT_SECONDS * DEVICE_STREAM.sample_rate_hz)
    for k, (kind, paths) in enumerate(THEME_ALERTS.items()):
        sounds = []
        for path in paths:
            if not path.is_file():
                raise ConfigError(f"{path}: missing; install the Debian sound themes (scripts/setup.sh)")
            sounds.append(read_mono_16k(path))
        for index in range(n_per_class):
            rng = np.random.default_rng([HELDOUT_SEED_START, THEME_ALERT_STREAM, k, index])
            sound = sounds[index % len(sounds)]
            looped = np.resize(np.roll(sound, -int(rng.integers(len(sound)))), n_samples)
            level = 10 ** (rng.uniform(-12, 0) / 20) * 0.9 / max(float(np.abs(looped).max()), 1e-9)
            pieces.append(Piece(f"alert-{kind}-{index}", (looped * level).astype(np.float32), {}))
    return pieces


@dataclass(frozen=True)
class AlertScores:
    label: str
    n_events: int
    recall: dict[str, float]
    """Per condition ('alone', 'over music', 'over speech'): fraction recalled within ALERT_WINDOW_S."""

    @property
    def worst_recall(self) -> float:
        return min(self.recall.values()) if self.recall else float("nan")

    false_alarms_per_hour: float
    """Times this label turned on per hour of music without events."""


def _delayed(piece: Piece) -> Piece:
    """The event ALERT_ONSET_S into a clip (silence before it)."""
    lead = np.zeros(int(ALERT_ONSET_S * DEVICE_STREAM.sample_rate_hz), np.float32)
    return Piece(piece.name, np.concatenate([lead, piece.mixture]).astype(np.float32), {})


def label_active(probabilities: np.ndarray, frame_rate_hz: float, decision: HysteresisParams) -> np.ndarray:
    """probabilities (n_frames,) of one label -> (n_frames,) bool: is the label on, as the renderer decides?"""
    return TagHysteresis(1, frame_rate_hz, decision).process(probabilities[:, None])[:, 0]


def recalled(active: np.ndarray, frame_rate_hz: float) -> bool:
    """active (n_frames,) of one label: does it turn on within the alert window after onset?"""
    start = int(ALERT_ONSET_S * frame_rate_hz)
    end = int((ALERT_ONSET_S + ALERT_WINDOW_S) * frame_rate_hz)
    return bool(np.any(active[start:end]))


def activations(active: np.ndarray) -> int:
    """How many times ``active`` (n_frames,) bool turns on."""
    return int(np.count_nonzero(active[1:] & ~active[:-1]) + int(active[0]))


def score_alerts(
    tagger: PackTagger,
    events_by_material: dict[str, list[Piece]],
    music: list[Piece],
    speech: list[Piece],
    decision: HysteresisParams = RENDER_DECISION,
) -> dict[str, list[AlertScores]]:
    """Per material, recall per alert class and condition, and false alarms per hour of ``music`` (the same music
    for every material, tagged once; see the module docstring)."""
    frame_rate_hz = DEVICE_STREAM.sample_rate_hz / tagger.spec.hop
    labels = list(tagger.labels)
    music_seconds = sum(len(piece.mixture) for piece in music) / DEVICE_STREAM.sample_rate_hz
    music_probabilities = [tagger.tag(piece.mixture) for piece in music]
    columns = {label: labels.index(label) for label in ALERT_CLASSES if label in labels}
    false_alarms_per_hour = {
        label: sum(activations(label_active(p[:, column], frame_rate_hz, decision)) for p in music_probabilities)
        / max(music_seconds, 1e-9)
        * 3600.0
        for label, column in columns.items()
    }
    results: dict[str, list[AlertScores]] = {}
    for material, events in events_by_material.items():
        results[material] = []
        for label, column in columns.items():
            of_kind = [piece for piece in events if piece.name.startswith(f"alert-{label}-")]
            if not of_kind:
                continue
            hits: dict[str, list[bool]] = {"alone": [], "over music": [], "over speech": []}
            for index, event in enumerate(of_kind):
                delayed = _delayed(event)
                clips = {"alone": delayed.mixture}
                if music:
                    clips["over music"] = over_song(delayed, music[index % len(music)], EVENT_OVER_MUSIC_GAIN).mixture
                if speech:
                    voice = speech[index % len(speech)]
                    clips["over speech"] = over_song(delayed, voice, EVENT_OVER_MUSIC_GAIN).mixture
                for condition, clip in clips.items():
                    active = label_active(tagger.tag(clip)[:, column], frame_rate_hz, decision)
                    hits[condition].append(recalled(active, frame_rate_hz))
            results[material].append(
                AlertScores(
                    label,
                    len(of_kind),
                    {c: float(np.mean(h)) for c, h in hits.items() if h},
                    false_alarms_per_hour[label],
                )
            )
    return results
