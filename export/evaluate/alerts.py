"""Do alerts fire? Per alert class: recall within 1 s at the threshold the renderer uses, and false alarms per hour
of music, for a pack's tagger on held-out material.

Material: synthetic alerts of each class from held-out random streams no training recipe can draw, made by the
held-out alert family (out-of-source: ``export.data.alert_sounds.HELDOUT_ALERT_FAMILIES``) and, beside it, by a
training family (in-source), placed ALERT_ONSET_S into a clip, alone, over out-of-source music (RMS ratio
EVENT_OVER_MUSIC_GAIN) and over held-out speech. An event is recalled when the tagger's probability for its label
reaches ``threshold`` (the rig's ``tag_on``, 0.5 by default) within ALERT_WINDOW_S of the event's start.
False alarms: upward crossings of ``threshold`` by each alert label on music with no event (the out-of-source and
in-source songs), per hour of that music.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
DEFAULT_THRESHOLD = RenderParams().tag_on


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
    """Upward threshold crossings of this label per hour of music without events."""


def _delayed(piece: Piece) -> Piece:
    """The event ALERT_ONSET_S into a clip (silence before it)."""
    lead = np.zeros(int(ALERT_ONSET_S * DEVICE_STREAM.sample_rate_hz), np.float32)
    return Piece(piece.name, np.concatenate([lead, piece.mixture]).astype(np.float32), {})


def recalled(probabilities: np.ndarray, frame_rate_hz: float, threshold: float) -> bool:
    """probabilities (n_frames,) of one label: does it reach ``threshold`` within the alert window after onset?"""
    start = int(ALERT_ONSET_S * frame_rate_hz)
    end = int((ALERT_ONSET_S + ALERT_WINDOW_S) * frame_rate_hz)
    return bool(np.any(probabilities[start:end] >= threshold))


def upward_crossings(probabilities: np.ndarray, threshold: float) -> int:
    above = probabilities >= threshold
    return int(np.count_nonzero(above[1:] & ~above[:-1]) + int(above[0]))


def score_alerts(
    tagger: PackTagger,
    events: list[Piece],
    music: list[Piece],
    speech: list[Piece],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[AlertScores]:
    """Recall per alert class and condition, and false alarms per hour of ``music`` (see the module docstring)."""
    frame_rate_hz = DEVICE_STREAM.sample_rate_hz / tagger.spec.hop
    labels = list(tagger.labels)
    music_seconds = sum(len(piece.mixture) for piece in music) / DEVICE_STREAM.sample_rate_hz
    music_probabilities = [tagger.tag(piece.mixture) for piece in music]
    results = []
    for label in ALERT_CLASSES:
        if label not in labels:
            continue
        column = labels.index(label)
        of_kind = [piece for piece in events if piece.name.startswith(f"alert-{label}-")]
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
                hits[condition].append(recalled(tagger.tag(clip)[:, column], frame_rate_hz, threshold))
        false_alarms = sum(upward_crossings(p[:, column], threshold) for p in music_probabilities)
        results.append(
            AlertScores(
                label,
                len(of_kind),
                {c: float(np.mean(h)) for c, h in hits.items() if h},
                false_alarms / max(music_seconds, 1e-9) * 3600.0,
            )
        )
    return results
