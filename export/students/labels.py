"""The tagger student's labels: a haptics-relevant subset of AudioSet, each the max over YAMNet classes.

A student label's teacher probability is the maximum of the teacher's sigmoid outputs over the AudioSet classes
listed for it (display names exactly as in YAMNet's class map).
"""

from __future__ import annotations

import numpy as np

from edge.errors import ConfigError

STUDENT_LABELS: dict[str, tuple[str, ...]] = {
    "speech": ("Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue", "Speech synthesizer"),
    "shout": ("Shout", "Yell", "Screaming", "Children shouting"),
    "music": ("Music",),
    "singing": ("Singing", "Choir", "Vocal music", "A capella", "Humming", "Synthetic singing"),
    "drums": ("Drum kit", "Drum machine", "Drum", "Snare drum", "Bass drum", "Percussion"),
    "cymbal": ("Cymbal", "Hi-hat"),
    "bass": ("Bass guitar", "Double bass"),
    "guitar": ("Guitar", "Electric guitar", "Acoustic guitar", "Plucked string instrument"),
    "piano": ("Piano", "Electric piano", "Keyboard (musical)", "Organ", "Synthesizer"),
    "strings": ("Bowed string instrument", "String section", "Violin, fiddle", "Cello", "Orchestra"),
    "brass": ("Brass instrument", "Trumpet", "Trombone", "French horn"),
    "siren": (
        "Siren",
        "Civil defense siren",
        "Police car (siren)",
        "Ambulance (siren)",
        "Fire engine, fire truck (siren)",
        "Emergency vehicle",
    ),
    "alarm": (
        "Alarm",
        "Alarm clock",
        "Smoke detector, smoke alarm",
        "Fire alarm",
        "Buzzer",
        "Car alarm",
        "Beep, bleep",
    ),
    "doorbell": ("Doorbell", "Ding-dong"),
    "knock": ("Knock", "Tap", "Door"),
    "telephone": ("Telephone", "Telephone bell ringing", "Ringtone"),
    "bell": ("Bell", "Chime", "Ding", "Jingle bell", "Bicycle bell", "Church bell"),
    "dog": ("Dog", "Bark", "Yip", "Bow-wow", "Howl", "Growling"),
    "baby_cry": ("Baby cry, infant cry", "Crying, sobbing"),
    "car_horn": ("Vehicle horn, car horn, honking", "Air horn, truck horn", "Toot"),
    "vehicle": ("Vehicle", "Car", "Motor vehicle (road)", "Truck", "Engine"),
    "applause": ("Applause", "Cheering", "Crowd"),
    "clapping": ("Clapping", "Hands", "Finger snapping"),
    "laughter": ("Laughter", "Giggle", "Belly laugh", "Chuckle, chortle", "Baby laughter"),
    "footsteps": ("Walk, footsteps", "Run", "Shuffle"),
    "glass_breaking": ("Shatter", "Glass", "Chink, clink"),
    "whistle": ("Whistle", "Whistling", "Steam whistle"),
    "impact": ("Thump, thud", "Bang", "Slam", "Smash, crash", "Boom", "Explosion"),
    "water": ("Water", "Rain", "Stream", "Ocean", "Waves, surf", "Water tap, faucet"),
    "wind": ("Wind", "Wind noise (microphone)", "Rustling leaves"),
    "silence": ("Silence",),
}
"""Student label -> YAMNet display names whose maximum is the label's teacher probability."""


def label_index_map(
    teacher_names: list[str] | tuple[str, ...], labels: tuple[str, ...] | None = None
) -> list[np.ndarray]:
    """For each student label, the indices of its AudioSet classes in ``teacher_names`` (unknown names are skipped;
    a label with none at all is a ConfigError naming it)."""
    labels = tuple(STUDENT_LABELS) if labels is None else labels
    position = {name: i for i, name in enumerate(teacher_names)}
    indices = []
    for label in labels:
        if label not in STUDENT_LABELS:
            raise ConfigError(f"tagger label {label!r} unknown; expected one of {sorted(STUDENT_LABELS)}")
        found = [position[name] for name in STUDENT_LABELS[label] if name in position]
        if not found:
            raise ConfigError(f"tagger label {label!r}: none of {STUDENT_LABELS[label]} is a teacher class")
        indices.append(np.array(found, dtype=np.int64))
    return indices


def map_teacher_probabilities(probabilities: np.ndarray, index_map: list[np.ndarray]) -> np.ndarray:
    """(n_frames, n_teacher_classes) -> (n_frames, n_labels): the max over each label's classes."""
    return np.stack([probabilities[:, indices].max(axis=1) for indices in index_map], axis=1).astype(np.float32)
