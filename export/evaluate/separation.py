"""Score separators on held-out pieces: SDR and SI-SDR per stem, averaged over pieces.

A method maps a :class:`Piece` to estimated stems by name. Each estimate is scored against the same-named true
stem; 'accompaniment' (Spleeter's second stem) is scored against the sum of every stem but the vocals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from export.evaluate.heldout import Piece
from export.evaluate.metrics import StemScore, separation_scores

ACCOMPANIMENT = "accompaniment"
METRICS = ("sdr_db", "si_sdr_db")

Method = Callable[[Piece], dict[str, np.ndarray]]
"""A separator under evaluation: piece -> {stem name: (n_samples,) float32 estimate}."""


def references_for(piece: Piece, stems: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    """The true stems named in ``stems``; 'accompaniment' is built as the sum of all but the vocals."""
    references = {}
    for stem in stems:
        if stem == ACCOMPANIMENT:
            references[stem] = np.sum([s for name, s in piece.stems.items() if name != "vocals"], axis=0)
        elif stem in piece.stems:
            references[stem] = piece.stems[stem]
    return references


@dataclass
class MethodScores:
    """Per-piece scores of one method; summaries are means over the pieces where the stem was scored."""

    name: str
    per_piece: list[dict[str, StemScore]] = field(default_factory=list)

    @property
    def stems(self) -> list[str]:
        seen: dict[str, None] = {}
        for scores in self.per_piece:
            seen.update(dict.fromkeys(scores))
        return list(seen)

    def values(self, stem: str, metric: str) -> np.ndarray:
        values = [getattr(scores[stem], metric) for scores in self.per_piece if stem in scores]
        return np.array([v for v in values if not math.isnan(v)], dtype=np.float64)

    def mean(self, stem: str, metric: str) -> float:
        values = self.values(stem, metric)
        return float(values.mean()) if values.size else math.nan

    def mean_over_stems(self, metric: str, stems: list[str] | tuple[str, ...] | None = None) -> float:
        """Mean over ``stems`` (default: all of this method's) of the per-stem means."""
        means = [self.mean(stem, metric) for stem in (stems or self.stems) if stem in self.stems]
        means = [m for m in means if not math.isnan(m)]
        return float(np.mean(means)) if means else math.nan


def score_methods(
    pieces: list[Piece], methods: dict[str, Method], progress: Callable[[str], None] = lambda step: None
) -> dict[str, MethodScores]:
    """Run every method on every piece and score its estimates (stems without a true stem are not scored)."""
    results = {name: MethodScores(name) for name in methods}
    for index, piece in enumerate(pieces):
        for name, method in methods.items():
            progress(f"separation: {name} on {piece.name} ({index + 1}/{len(pieces)})")
            estimates = method(piece)
            references = references_for(piece, list(estimates))
            scored = {stem: estimate for stem, estimate in estimates.items() if stem in references}
            results[name].per_piece.append(separation_scores(references, scored))
    return results
