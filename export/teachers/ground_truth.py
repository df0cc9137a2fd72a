"""Ground truth as a 'teacher': the exact stems of rendered multitrack data, looked up by the mixture's audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.errors import ConfigError
from export.data.teacher_cache import cache_key
from export.teachers.base import check_mono

GROUND_TRUTH_ID = "ground-truth"


class GroundTruthTeacher:
    """Stems of a rendered dataset directory of ``*.npz`` files with ``stems`` (n_stems, n_samples)."""

    teacher_id = GROUND_TRUTH_ID

    def __init__(self, directory: Path, stems: tuple[str, ...]) -> None:
        self.stems = tuple(stems)
        self._by_mixture: dict[str, np.ndarray] = {}
        for path in sorted(Path(directory).glob("*.npz")):
            with np.load(path) as stored:
                stem_audio = stored["stems"].astype(np.float32)
            if len(stem_audio) != len(self.stems):
                raise ConfigError(f"ground truth {path}: {len(stem_audio)} stems, expected {len(self.stems)}")
            self._by_mixture[cache_key(stem_audio.sum(axis=0), GROUND_TRUTH_ID)] = stem_audio

    def __len__(self) -> int:
        return len(self._by_mixture)

    def separate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        key = cache_key(check_mono(mixture, "ground truth"), GROUND_TRUTH_ID)
        if key not in self._by_mixture:
            raise ConfigError("ground truth teacher: this mixture is not one of the rendered songs")
        return dict(zip(self.stems, self._by_mixture[key]))
