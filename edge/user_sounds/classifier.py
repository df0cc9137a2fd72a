"""A light classifier for one user sound: nearest of a few prototypes (one per recording) by cosine
similarity, with a threshold calibrated on the recordings (leave-one-out) and on negative material."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_CLIPS = 3
THRESHOLD_POSITION = 0.5
"""Where the threshold sits between the strongest negative step (0) and the weakest recording (1). Halfway:
in benchmarks/bench_user_sounds.py 0.25 caught no more held-out takes but fired on held-out music more often."""


@dataclass(frozen=True)
class Calibration:
    """How the threshold was chosen: leave-one-out best score of each recording, the highest score on the
    negative material, the share of recordings the threshold still catches, negative steps checked."""

    clip_scores: tuple[float, ...]
    max_negative_score: float
    loo_recall: float
    n_negative_steps: int


@dataclass(frozen=True)
class PrototypeClassifier:
    """``prototypes``: (n_prototypes, dim) unit vectors; a step scores its best cosine similarity to them."""

    prototypes: np.ndarray
    threshold: float

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """(n_steps, dim) unit embeddings -> (n_steps,) scores in [-1, 1]."""
        if len(embeddings) == 0:
            return np.zeros(0, dtype=np.float32)
        return (np.asarray(embeddings, dtype=np.float32) @ self.prototypes.T).max(axis=1)

    def detects(self, embeddings: np.ndarray) -> np.ndarray:
        return self.scores(embeddings) >= self.threshold


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


PROTOTYPES_PER_CLIP = 3
"""A recording's steps, in time order, split in this many runs with a prototype each: the sound entering the
tagger's window, filling it, leaving it — so a sound is recognised early, not only once it fills the window."""


def prototypes_of(takes: list[np.ndarray]) -> np.ndarray:
    """PROTOTYPES_PER_CLIP per take: the mean direction of each run of its (n_steps, dim) step embeddings."""
    return np.stack(
        [
            _unit(run.mean(axis=0))
            for steps in takes
            for run in np.array_split(steps, min(PROTOTYPES_PER_CLIP, len(steps)))
            if len(run)
        ]
    )


def calibrate(recordings: list[list[np.ndarray]], negatives: np.ndarray) -> tuple[PrototypeClassifier, Calibration]:
    """The classifier of ``recordings`` (per recording, its takes — as recorded, over music — each (n_steps, dim)
    embeddings of the steps that hear it) and its threshold.

    Leave-one-out: each recording scores the best step of its weakest take against the prototypes of the
    others. The threshold sits at THRESHOLD_POSITION between the strongest step of ``negatives`` and the weakest recording
    when they separate, else just above that negative (no false alarm on the material, fewer recordings caught).
    """
    if len(recordings) < MIN_CLIPS:
        raise ValueError(f"{len(recordings)} recordings; need at least {MIN_CLIPS}")
    takes = [take for takes_of in recordings for take in takes_of if len(take)]
    protos = prototypes_of(takes)
    clip_scores = []
    for index, takes_of in enumerate(recordings):
        others = PrototypeClassifier(
            prototypes_of([t for i, r in enumerate(recordings) if i != index for t in r if len(t)]), 1.0
        )
        clip_scores.append(min(float(others.scores(take).max(initial=-1.0)) for take in takes_of))
    max_negative = float(PrototypeClassifier(protos, 1.0).scores(negatives).max(initial=-1.0))
    weakest = min(clip_scores)
    threshold = (
        max_negative + THRESHOLD_POSITION * (weakest - max_negative) if weakest > max_negative else max_negative + 1e-3
    )
    recall = float(np.mean(np.array(clip_scores) >= threshold))
    return PrototypeClassifier(protos, threshold), Calibration(tuple(clip_scores), max_negative, recall, len(negatives))
